"""Enforcement and the network in the console (``/console/enforcement``): the cases with
filters (state, router, overdue debt) and each case's timeline; exempt (for good or until a
day, with the reason), clear the exemption, force a reconnection; the preview of the next
sweep (the dry run of ``ispzone enforcement run``); the routers with their health; the
router actions with the routers' answers; "reconcile now".

Every role may read; support (and admin) act. The acts are the functions the commands call
(enforcement/service.py, enforcement/outbox.py), each audited with the operator; router
actions are queued in the outbox and sent by ``ispzone worker``."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from billing.models import Customer
from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import today
from core.errors import Invalid
from enforcement import cases, outbox, overview, service
from enforcement.config import Policy
from enforcement.models import ACTION_STATUSES, CASE_STATES
from web import parsing
from web.database import db
from web.formatting import format_date

ACTORS = ("support",)  # and admin
PER_PAGE = 50


class ExemptionError(Invalid, ValueError):
    """The exemption form is incomplete."""


def _default_router() -> str:
    return current_app.config["ENFORCEMENT_DEFAULT_ROUTER"]


def _policy() -> Policy:
    return Policy.from_config(current_app.config)


def _customer(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


@bp.get("/enforcement")
@allow(*ALL)
def enforcement_cases():
    args = request.args
    state = args.get("state") or None
    if state is not None:
        state = parsing.choice(state, CASE_STATES)
    overdue = {"yes": True, "no": False}.get(args.get("overdue", ""))
    sort = parsing.choice(args.get("sort") or "since", overview.CASE_SORTS)
    page = overview.case_list(
        db(), today(), state=state, router=args.get("router") or None, overdue=overdue,
        search=parsing.text(args.get("q", ""), max_length=100), sort=sort,
        descending=args.get("desc") == "1", page=parsing.page_number(args.get("page")),
        per_page=PER_PAGE, default_router=_default_router(),
    )
    return render_template(
        "console/enforcement/cases.html", page=page, states=CASE_STATES,
        routers=overview.router_names(db(), _default_router()), args=args)


@bp.get("/enforcement/cases/<int:customer_id>")
@allow(*ALL)
def enforcement_case(customer_id: int):
    customer = _customer(customer_id)
    found = cases.case_overview(db(), customer_id, limit=200)
    return render_template("console/enforcement/case.html", customer=customer, case=found.case,
                           timeline=found.timeline, today=today())


@bp.post("/enforcement/cases/<int:customer_id>/exempt")
@allow(*ACTORS)
def enforcement_exempt(customer_id: int):
    customer = _customer(customer_id)
    form = request.form
    reason = parsing.text(form.get("reason", ""), max_length=300).strip()
    if not reason:
        raise ExemptionError("Say why the customer is exempted.", field="reason")
    never = form.get("mode") == "never"
    until = None
    if not never:
        if not form.get("until", "").strip():
            raise ExemptionError("Give the last exempt day, or exempt for good.", field="until")
        until = parsing.day(form.get("until", ""), minimum=today())
    service.set_exemption(db(), customer, never=never, until=until, actor=actor(),
                          reason=reason)
    flash(_("%(number)s is exempt from reminders and disconnection %(when)s.",
            number=customer.customer_number,
            when=_("for good") if never else _("until %(day)s", day=format_date(until))),
          "success")
    return redirect(url_for("console.enforcement_case", customer_id=customer_id))


@bp.post("/enforcement/cases/<int:customer_id>/clear")
@allow(*ACTORS)
def enforcement_clear(customer_id: int):
    customer = _customer(customer_id)
    service.set_exemption(db(), customer, never=False, until=None, actor=actor(),
                          reason=parsing.text(request.form.get("reason", ""), max_length=300)
                          or None)
    flash(_("The exemption of %(number)s is cleared.", number=customer.customer_number),
          "success")
    return redirect(url_for("console.enforcement_case", customer_id=customer_id))


@bp.post("/enforcement/cases/<int:customer_id>/reconnect")
@allow(*ACTORS)
def enforcement_reconnect(customer_id: int):
    customer = _customer(customer_id)
    change = service.force_reconnect(db(), customer.id, actor=actor(), policy=_policy(),
                                     default_router=_default_router())
    if change is None:
        flash(_("%(number)s is not in enforcement; nothing to do.",
                number=customer.customer_number), "info")
    else:
        flash(_("%(number)s is back to ok; the routers are told by the worker.",
                number=customer.customer_number), "success")
    return redirect(url_for("console.enforcement_case", customer_id=customer_id))


@bp.get("/enforcement/preview")
@allow(*ALL)
def enforcement_preview():
    """What the next sweep would do today (``ispzone enforcement run --dry-run``): the
    sweep's own decisions, nothing written."""
    report = service.sweep(db(), today(), _policy(), default_router=_default_router(),
                           dry_run=True)
    return render_template("console/enforcement/preview.html", report=report)


@bp.get("/enforcement/routers")
@allow(*ALL)
def enforcement_routers():
    return render_template("console/enforcement/routers.html",
                           routers=overview.router_health(db(), _default_router()))


@bp.get("/enforcement/actions")
@allow(*ALL)
def enforcement_actions():
    args = request.args
    status = args.get("status") or None
    if status is not None:
        status = parsing.choice(status, ACTION_STATUSES)
    page = overview.action_list(db(), router=args.get("router") or None, status=status,
                                page=parsing.page_number(args.get("page")), per_page=PER_PAGE)
    return render_template("console/enforcement/actions.html", page=page,
                           statuses=ACTION_STATUSES, args=args,
                           routers=overview.router_names(db(), _default_router()))


@bp.post("/enforcement/reconcile")
@allow(*ACTORS)
def enforcement_reconcile():
    settings = outbox.OutboxSettings.from_config(current_app.config, current_app.instance_path)
    report = outbox.reconcile(db(), settings, actor=actor())
    return render_template("console/enforcement/reconciled.html", report=report)

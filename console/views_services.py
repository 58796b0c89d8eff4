"""A customer's services in the console: add, change (tariff and price from a day, speeds,
addresses, router), end; the PPPoE user name and password (generated or typed) and the VoIP
password (set or reset). docs/provisioning.md.

Every role reads; support (and admin) act. The PPPoE password is shown to admin and support
only (billing and readonly see it masked): it is a customer's access. Each act is one
function of billing/customers/services.py (the one the ``ispzone services`` commands call),
audited with the operator; what it changes reaches FreeRADIUS at the next dial-in and the
routers through the outbox (a moved address of a warned or disconnected customer).

The customer card (console-customers) includes ``templates/console/card/_services.html``
with ``customer`` in the context.
"""

from __future__ import annotations

from datetime import date

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from billing.customers import services
from billing.models import Contract, Customer, Service, ServiceKind, ServicePeriod
from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import today
from enforcement.provisioning import router_names
from web import parsing
from web.database import db
from web.formatting import format_date, format_money

ACTORS = ("support",)  # and admin
SEE_PASSWORDS = ("support",)  # and admin: billing and readonly see the PPPoE password masked
KINDS = tuple(kind.value for kind in ServiceKind)
PERIODS = tuple(period.value for period in ServicePeriod)
MODES = ("keep", "generate", "typed")


def _customer(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _service(service_id: int) -> Service:
    service = db().get(Service, service_id)
    if service is None:
        abort(404)
    return service


def _text(name: str, max_length: int = 200) -> str | None:
    value = parsing.text(request.form.get(name, ""), max_length=max_length)
    return value or None


def _day(name: str) -> date | None:
    return parsing.optional(request.form.get(name), parsing.day)


def _kbps(name: str) -> int | None:
    return parsing.optional(request.form.get(name), parsing.integer, minimum=1,
                            maximum=100_000_000)


def _ips() -> list[str]:
    return (_text("ips", 2000) or "").replace(",", " ").split()


def _password_mode(prefix: str) -> tuple[str | None, bool]:
    """(typed password, generate?) from ``<prefix>_mode`` and ``<prefix>_password``."""
    mode = parsing.choice(request.form.get(f"{prefix}_mode") or "keep", MODES)
    if mode == "generate":
        return None, True
    if mode == "typed":
        raw = request.form.get(f"{prefix}_password", "")
        return parsing.text(raw, max_length=64) or "", False
    return None, False


def _no_store(html: str):
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/customers/<int:customer_id>/services")
@allow(*ALL)
def customer_services(customer_id: int):
    customer = _customer(customer_id)
    return _no_store(render_template("console/services/customer.html", customer=customer,
                                     today=today()))


@bp.get("/customers/<int:customer_id>/services/new")
@allow(*ACTORS)
def service_new(customer_id: int):
    customer = _customer(customer_id)
    return render_template("console/services/new.html", customer=customer, kinds=KINDS,
                           periods=PERIODS, routers=router_names(db()), today=today(),
                           suggested=services.suggest_username(db(), customer))


@bp.post("/customers/<int:customer_id>/services/new")
@allow(*ACTORS)
def service_add(customer_id: int):
    customer = _customer(customer_id)
    form = request.form
    kind = parsing.choice(form.get("kind", ""), KINDS)
    contract = None
    if form.get("contract"):
        number = parsing.text(form["contract"], max_length=10)
        contract = db().query(Contract).filter_by(customer_id=customer.id, number=number).first()
        if contract is None:
            abort(400)
    pppoe_password, generate_pppoe = _password_mode("pppoe")
    voip_password, generate_voip = _password_mode("voip")
    internet = kind == ServiceKind.INTERNET
    added = services.add_service(
        db(), customer, kind=kind, name=_text("name") or "",
        price=parsing.amount(form.get("price", "")),
        vat_rate=parsing.choice(form.get("vat_rate") or "21", ("21", "12", "0")),
        period=parsing.choice(form.get("period") or "month", PERIODS),
        valid_from=_day("valid_from") or today(), valid_to=_day("valid_to"), contract=contract,
        location=_text("location", 300), description=_text("description", 500),
        download_kbps=_kbps("download_kbps") if internet else None,
        upload_kbps=_kbps("upload_kbps") if internet else None,
        ips=_ips() if internet else None,
        router_name=_text("router_name", 64) if internet else None,
        pppoe_username=_text("pppoe_username", 64) if internet else None,
        pppoe_password=pppoe_password if internet else None,
        generate_pppoe=generate_pppoe and internet,
        phone_number=_text("phone_number", 20) if kind == ServiceKind.VOIP else None,
        voip_password=voip_password if kind == ServiceKind.VOIP else None,
        generate_voip=generate_voip and kind == ServiceKind.VOIP,
        paid_until=_day("paid_until") if kind == ServiceKind.INSURANCE else None,
        actor=actor(), known_routers=router_names(db()),
    )
    if added.voip_password:  # hashed when stored: shown this once
        return _no_store(render_template("console/services/voip_password.html",
                                         service=added.service, password=added.voip_password))
    flash(_("The service %(name)s was added.", name=added.service.name), "success")
    return redirect(url_for("console.service_detail", service_id=added.service.id))


@bp.get("/services/<int:service_id>")
@allow(*ALL)
def service_detail(service_id: int):
    service = _service(service_id)
    return _no_store(render_template(
        "console/services/detail.html", service=service, customer=service.customer,
        history=services.tariff_history(db(), service.id), routers=router_names(db()),
        today=today(), see_passwords=SEE_PASSWORDS))


@bp.post("/services/<int:service_id>/change")
@allow(*ACTORS)
def service_change(service_id: int):
    service = _service(service_id)
    form = request.form
    changes: dict = {}
    if form.get("name", "").strip():
        changes["name"] = _text("name")
    if form.get("price", "").strip():
        changes["price"] = parsing.amount(form["price"])
    if form.get("vat_rate", "").strip():
        changes["vat_rate"] = parsing.choice(form["vat_rate"], ("21", "12", "0"))
    if service.kind == ServiceKind.INTERNET:
        for key in ("download_kbps", "upload_kbps"):
            if key in form:
                changes[key] = _kbps(key)
        if "ips" in form:
            changes["ips"] = _ips()
        if "router_name" in form:
            changes["router_name"] = _text("router_name", 64)
    for key, length in (("location", 300), ("description", 500)):
        if key in form:
            changes[key] = _text(key, length)
    if service.kind == ServiceKind.INSURANCE and "paid_until" in form:
        changes["paid_until"] = _day("paid_until")
    if service.kind == ServiceKind.VOIP and form.get("phone_number", "").strip():
        changes["phone_number"] = _text("phone_number", 20)
    result = services.change_service(db(), service, actor=actor(),
                                     effective_from=_day("effective_from"),
                                     known_routers=router_names(db()), **changes)
    if result.fields:
        flash(_("Changed: %(fields)s.", fields=", ".join(result.fields)), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("console.service_detail", service_id=service.id))


@bp.post("/services/<int:service_id>/end")
@allow(*ACTORS)
def service_end(service_id: int):
    service = _service(service_id)
    last_day = parsing.day(request.form.get("valid_to", ""))
    if request.form.get("refund") == "1":  # a prepaid service: its unused days to the credit
        from billing.credit.early_end import end_prepaid_early
        from billing.invoicing.supplier import Supplier

        result = end_prepaid_early(db(), service.id, last_day,
                                   Supplier.from_config(current_app.config), actor=actor())
        flash(_("The service ends on %(day)s; %(amount)s without VAT returned to the credit "
                "(credit note %(numbers)s).", day=format_date(last_day),
                amount=format_money(result.returned),
                numbers=", ".join(n.number for n in result.credit_notes)), "success")
        return redirect(url_for("console.service_detail", service_id=service.id))
    services.end_service(db(), service, last_day, actor=actor())
    flash(_("The service ends on %(day)s.", day=format_date(last_day)), "success")
    return redirect(url_for("console.service_detail", service_id=service.id))


@bp.post("/services/<int:service_id>/pppoe")
@allow(*ACTORS)
def service_pppoe(service_id: int):
    service = _service(service_id)
    password, generate = _password_mode("pppoe")
    username = _text("pppoe_username", 64)
    if username == service.pppoe_username:
        username = None
    services.set_pppoe(db(), service, actor=actor(), username=username, password=password,
                       generate=generate)
    flash(_("The PPPoE credentials are set; FreeRADIUS accepts them at the next dial-in."),
          "success")
    return redirect(url_for("console.service_detail", service_id=service.id) + "#pppoe")


@bp.post("/services/<int:service_id>/voip-password")
@allow(*ACTORS)
def service_voip_password(service_id: int):
    service = _service(service_id)
    password, generate = _password_mode("voip")
    new = services.set_voip_password(db(), service, actor=actor(), password=password,
                                     generate=generate)
    if generate:  # hashed when stored: shown this once
        return _no_store(render_template("console/services/voip_password.html",
                                         service=service, password=new))
    flash(_("The VoIP password is set."), "success")
    return redirect(url_for("console.service_detail", service_id=service.id))

"""Customers in the console (``/console/customers``): search as you type (htmx; a plain GET
form without JavaScript), the list of all customers (paginated, sortable), create and edit
with the client zone's validation, contracts, the customer card (contact details, services,
invoices, payments, ledger and balances, the enforcement case with its timeline, VoIP lines
with credit and calls, audit events, notes) and "view the zone as this customer".

Every role reads; support (and admin) create and change customers and contracts and view
the zone as a customer; support and billing write notes. Views are thin: the domain is
billing/customers/ (search, register, card, view_as), enforcement.cases and voip.lines;
every change is audited with the operator (docs/console-customers.md)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user

from billing.customers import register
from billing.customers import view_as as view_as_domain
from billing.customers.card import card
from billing.customers.search import LIST_SORTS, customer_page, search
from billing.models import Contract, Customer
from console.auth import ALL, actor, allow
from console.blueprint import bp
from console.customer_forms import ContractForm, CustomerForm, NewCustomerForm, NoteForm
from core.clock import today
from enforcement.cases import case_overview
from enforcement.models import EnforcementCase
from voip.lines import customer_lines
from web import parsing, sessions
from web.database import db
from web.door import on_refusal

SUPPORT = ("support",)  # and admin
NOTE_WRITERS = ("support", "billing")
PER_PAGE = 50
SEARCH_LIMIT = 50


def _customer(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# -- search and list ------------------------------------------------------------------------


@bp.get("/customers")
@allow(*ALL)
def customers():
    """One box: with a query the search's hits (best first), without one every customer,
    a page at a time, sorted by a column. htmx asks for the results only."""
    q = parsing.query(request.args.get("q", ""), max_length=200)
    context = {"q": q, "hits": None, "page": None}
    if q:
        context["hits"] = search(db(), q, limit=SEARCH_LIMIT)
        context["limit"] = SEARCH_LIMIT
    else:
        sort = request.args.get("sort") or "number"
        if sort not in LIST_SORTS:
            sort = "number"
        context["page"] = customer_page(
            db(), page=parsing.page_number(request.args.get("page")), per_page=PER_PAGE,
            sort=sort, descending=request.args.get("desc") == "1")
    if _is_htmx():
        return render_template("console/customers/_results.html", **context)
    return render_template("console/customers/index.html", **context)


# -- create and edit ----------------------------------------------------------------------------


def _form_again(template: str, form_class, status: int = 422, **context):
    def respond(exc):
        form = form_class()  # what was submitted (request.form)
        form.add_errors(getattr(exc, "errors", {}))
        return render_template(template, form=form, **context), status

    return respond


def _new_again(exc):
    return _form_again("console/customers/form.html", NewCustomerForm, new=True)(exc)


@bp.route("/customers/new", methods=["GET"])
@allow(*SUPPORT)
def customer_new():
    return render_template("console/customers/form.html", form=NewCustomerForm(), new=True)


@bp.route("/customers/new", methods=["POST"])
@allow(*SUPPORT)
@on_refusal(register.CustomerInvalid, respond=_new_again, message=None)
def customer_create():
    form = NewCustomerForm()
    if not form.validate_on_submit():
        return render_template("console/customers/form.html", form=form, new=True), 422
    try:
        signed_on = parsing.optional(form.signed_on.data, parsing.day)
    except parsing.ParseError:
        raise register.CustomerInvalid({"signed_on": "not a day"}) from None
    customer = register.create_customer(db(), form.data_input(), actor=actor(),
                                        signed_on=signed_on, ip=request.remote_addr)
    flash(_("Customer %(number)s has been created.", number=customer.customer_number),
          "success")
    return redirect(url_for("console.customer_card", customer_id=customer.id))


def _edit_again(exc):
    customer = _customer(request.view_args["customer_id"])
    return _form_again("console/customers/form.html", CustomerForm, customer=customer,
                       new=False)(exc)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET"])
@allow(*SUPPORT)
def customer_edit(customer_id: int):
    customer = _customer(customer_id)
    return render_template("console/customers/form.html", form=CustomerForm(obj=customer),
                           customer=customer, new=False)


@bp.route("/customers/<int:customer_id>/edit", methods=["POST"])
@allow(*SUPPORT)
@on_refusal(register.CustomerInvalid, respond=_edit_again, message=None)
def customer_update(customer_id: int):
    customer = _customer(customer_id)
    form = CustomerForm()
    if not form.validate_on_submit():
        return render_template("console/customers/form.html", form=form, customer=customer,
                               new=False), 422
    changed = register.update_customer(db(), customer, form.data_input(), actor=actor(),
                                       ip=request.remote_addr)
    if changed:
        flash(_("The customer's details have been saved."), "success")
    else:
        flash(_("Nothing has changed."), "info")
    return redirect(url_for("console.customer_card", customer_id=customer.id))


# -- contracts --------------------------------------------------------------------------------


def _day(raw, field: str, *, required: bool):
    try:
        if required:
            return parsing.day(raw or "")
        return parsing.optional(raw, parsing.day)
    except parsing.ParseError:
        raise register.ContractInvalid(f"{field}: enter the day as YYYY-MM-DD") from None


@bp.post("/customers/<int:customer_id>/contracts")
@allow(*SUPPORT)
def contract_add(customer_id: int):
    customer = _customer(customer_id)
    form = ContractForm()
    if not form.validate_on_submit():
        abort(400)
    signed_on = _day(form.signed_on.data or today().isoformat(), "signed_on", required=True)
    contract = register.add_contract(db(), customer, signed_on=signed_on, actor=actor(),
                                     ip=request.remote_addr)
    flash(_("Contract %(number)s has been added.", number=contract.number), "success")
    return redirect(url_for("console.customer_card", customer_id=customer.id) + "#contracts")


def _contract(customer: Customer, contract_id: int) -> Contract:
    contract = db().get(Contract, contract_id)
    if contract is None or contract.customer_id != customer.id:
        abort(404)
    return contract


@bp.route("/customers/<int:customer_id>/contracts/<int:contract_id>/edit",
          methods=["GET", "POST"])
@allow(*SUPPORT)
def contract_edit(customer_id: int, contract_id: int):
    customer = _customer(customer_id)
    contract = _contract(customer, contract_id)
    form = ContractForm(data={"signed_on": contract.signed_on.isoformat(),
                              "ended_on": contract.ended_on.isoformat()
                              if contract.ended_on else ""}) \
        if request.method == "GET" else ContractForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("console/customers/contract.html", form=form,
                                   customer=customer, contract=contract), 422
        changed = register.update_contract(
            db(), contract, signed_on=_day(form.signed_on.data, "signed_on", required=True),
            ended_on=_day(form.ended_on.data, "ended_on", required=False), actor=actor(),
            ip=request.remote_addr)
        flash(_("The contract has been saved.") if changed else _("Nothing has changed."),
              "success" if changed else "info")
        return redirect(url_for("console.customer_card", customer_id=customer.id) + "#contracts")
    return render_template("console/customers/contract.html", form=form, customer=customer,
                           contract=contract)


# -- notes ------------------------------------------------------------------------------------


@bp.post("/customers/<int:customer_id>/notes")
@allow(*NOTE_WRITERS)
def note_add(customer_id: int):
    customer = _customer(customer_id)
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    register.add_note(db(), customer, form.text.data or "", actor=actor())
    flash(_("The note has been added."), "success")
    return redirect(url_for("console.customer_card", customer_id=customer.id) + "#notes")


# -- the card ---------------------------------------------------------------------------------


@bp.get("/customers/<int:customer_id>")
@allow(*ALL)
def customer_card(customer_id: int):
    customer = _customer(customer_id)
    session = db()
    data = card(session, customer, today(),
                invoice_page_no=parsing.page_number(request.args.get("invoices")))
    return render_template(
        "console/customers/card.html",
        customer=customer,
        card=data,
        case=session.get(EnforcementCase, customer.id),
        timeline=case_overview(session, customer.id, limit=30).timeline,
        lines=customer_lines(session, customer.id),
        note_form=NoteForm(),
        contract_form=ContractForm(data={"signed_on": today().isoformat()}),
        today=today(),
    )


# -- view the zone as this customer -----------------------------------------------------------


@bp.post("/customers/<int:customer_id>/view-as")
@allow(*SUPPORT)
def view_as(customer_id: int):
    """Open the client zone as the customer, read-only, in a session of the operator's own
    (zone/view_as.py refuses every change and shows the banner)."""
    customer = _customer(customer_id)
    token = view_as_domain.start(db(), customer, actor=actor(), ip=request.remote_addr,
                                 user_agent=request.user_agent.string)
    sessions.fresh_cookie_session()
    login_user(sessions.Principal(customer, None, token))
    return redirect(url_for("zone.index"))

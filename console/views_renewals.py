"""Services with an expiry in the console (``/console/customers/<id>/renewals``,
docs/renewals-console.md): what the zone's "Služby s platností" shows, for operators, with
the actions of the ``ispzone renewals`` commands: renew a service for one period (from the
customer's credit, by an invoice left to be paid, or by a bank-transfer order), set or take
off its expiry, switch its automatic renewal.

Roles: every role reads; renewing moves money (an invoice, a payment from credit): billing
(and admin); the expiry and the auto-renew switch change the service: support (and admin).
The changes are the functions the commands call (billing/credit/renewals.py), audited with
the operator; their refusals are shown by the web door."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from billing import credit
from billing.credit.renewals import (
    auto_renews,
    months_of,
    order_renewal,
    renew,
    renewal_price,
    set_auto_renew_kinds,
    set_expiry,
    set_service_auto_renew,
)
from billing.invoicing.supplier import Supplier
from billing.models import (
    CreditServiceSettings,
    Customer,
    RenewalOrder,
    RenewalSource,
    Service,
    ServiceKind,
    ServiceRenewal,
)
from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import today
from web import parsing
from web.database import db
from web.formatting import format_date

RENEWERS = ("billing",)  # and admin: a renewal issues an invoice and may pay it from credit
EDITORS = ("support",)  # and admin: the expiry and the switch of a service
LAST_RENEWALS = 5
SOURCES = {"credit": RenewalSource.CREDIT, "operator": RenewalSource.OPERATOR}
AUTO_RENEW = {"on": True, "off": False, "default": None}


def _customer_or_404(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _service_or_404(customer: Customer, service_id: int) -> Service:
    service = db().get(Service, service_id)
    if service is None or service.customer_id != customer.id:
        abort(404)
    return service


def _back(customer_id: int):
    return redirect(url_for("console.renewals_customer", customer_id=customer_id))


@bp.get("/customers/<int:customer_id>/renewals")
@allow(*ALL)
def renewals_customer(customer_id: int):
    session = db()
    customer = _customer_or_404(customer_id)
    services = list(session.scalars(select(Service).where(Service.customer_id == customer.id)
                                    .order_by(Service.expires_on.is_(None), Service.expires_on,
                                              Service.id)))
    rows = []
    for service in services:
        renewals = list(session.scalars(
            select(ServiceRenewal).where(ServiceRenewal.service_id == service.id)
            .order_by(ServiceRenewal.previous_expiry.desc()).limit(LAST_RENEWALS)))
        waiting = session.scalar(select(RenewalOrder).where(
            RenewalOrder.service_id == service.id, RenewalOrder.renewal_id.is_(None)))
        rows.append({"service": service, "months": months_of(service),
                     "price": renewal_price(service) if service.expires_on else None,
                     "auto": auto_renews(session, service), "renewals": renewals,
                     "waiting": waiting})
    account = credit.account_of(session, customer.id)
    balance = credit.credit_balance(session, customer.id) if account is not None else None
    return render_template("console/renewals/customer.html", customer=customer, rows=rows,
                           account=account, balance=balance, today=today(),
                           auto_kinds=auto_renew_kinds(customer.id))


@bp.post("/customers/<int:customer_id>/renewals/<int:service_id>/renew")
@allow(*RENEWERS)
def renewals_renew(customer_id: int, service_id: int):
    customer = _customer_or_404(customer_id)
    service = _service_or_404(customer, service_id)
    how = parsing.choice(request.form.get("paid_from", "credit"), ("credit", "operator", "transfer"))
    supplier = Supplier.from_config(current_app.config)
    if how == "transfer":
        order = order_renewal(db(), service, supplier, actor=actor())
        flash(_("Renewal of %(service)s ordered: it is made once invoice #%(invoice)s is paid.",
                service=service.name, invoice=order.invoice_id), "success")
        return _back(customer.id)
    renewal = renew(db(), service, supplier, paid_from=SOURCES[how], actor=actor())
    flash(_("%(service)s renewed: expires on %(day)s.", service=service.name,
            day=format_date(renewal.new_expiry)), "success")
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/renewals/<int:service_id>/expiry")
@allow(*EDITORS)
def renewals_set_expiry(customer_id: int, service_id: int):
    customer = _customer_or_404(customer_id)
    service = _service_or_404(customer, service_id)
    expires_on = parsing.optional(request.form.get("expires_on") or None, parsing.day)
    months = parsing.optional(request.form.get("months") or None, parsing.integer,
                              minimum=1, maximum=120)
    set_expiry(db(), service.id, expires_on, actor=actor(), months=months)
    flash(_("Expiry of %(service)s saved.", service=service.name), "success")
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/renewals/<int:service_id>/auto-renew")
@allow(*EDITORS)
def renewals_auto_renew(customer_id: int, service_id: int):
    customer = _customer_or_404(customer_id)
    service = _service_or_404(customer, service_id)
    value = AUTO_RENEW[parsing.choice(request.form.get("auto_renew", ""), tuple(AUTO_RENEW))]
    set_service_auto_renew(db(), service, value, actor=actor())
    flash(_("Automatic renewal of %(service)s saved.", service=service.name), "success")
    return _back(customer.id)


@bp.app_template_global("renewal_kinds_of")  # the customer card's renewals block reads it
def auto_renew_kinds(customer_id: int) -> set[str]:
    """The customer's per-kind setting ("renew every internet/insurance... from credit"), as
    the zone's "Služby a prodlužování" page sets it (billing/credit/renewals.py)."""
    settings = db().get(CreditServiceSettings, customer_id)
    return {k for k in (settings.auto_renew_kinds if settings else "").split(",") if k}


@bp.post("/customers/<int:customer_id>/renewals/kinds")
@allow(*EDITORS)
def renewals_auto_renew_kinds(customer_id: int):
    """The customer's automatic renewal by kind of service (support, admin; audited
    ``credit.auto_renew_kinds`` with the operator). The boxes not ticked are off."""
    customer = _customer_or_404(customer_id)
    known = tuple(str(k) for k in ServiceKind)
    kinds = [parsing.choice(k, known) for k in request.form.getlist("kind")]
    set_auto_renew_kinds(db(), customer.id, kinds, actor=actor())
    flash(_("Automatic renewal by kind of service saved."), "success")
    target = request.form.get("back")
    if target == "card":
        return redirect(url_for("console.customer_card", customer_id=customer.id) + "#renewals")
    return _back(customer.id)

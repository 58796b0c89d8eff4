"""The client zone's services with an expiry and the credit notices (issue 15 items 4 and 5;
helper credit-services): each prepaid service with its expiry, renewal price and switch,
renewing it now from credit or by bank transfer, the kinds that renew themselves, and the
notice settings. Thin views over billing.credit.renewals and billing.credit.notices."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from billing.credit import renewals
from billing.credit.notices import ensure_settings, set_preferences
from billing.invoicing.supplier import Supplier
from billing.models import Invoice, RenewalOrder, RenewalSource, Service, ServiceKind
from web import parsing
from web.database import db
from web.door import after_commit, on_refusal
from web.formatting import format_date
from zone import bp

KIND_LABELS = {
    ServiceKind.INTERNET: _l("Internet"),
    ServiceKind.VOIP: _l("VoIP"),
    ServiceKind.INSURANCE: _l("Device insurance"),
    ServiceKind.OTHER: _l("Other services"),
}


def _send_outbox():
    from web.cli_credit import send_outbox

    after_commit(send_outbox)


def _own_service(service_id: int) -> Service:
    service = db().get(Service, service_id)
    if service is None or service.customer_id != current_user.customer_id or service.expires_on is None:
        abort(404)
    return service


@bp.get("/credit/services")
@login_required
def credit_services():
    session, customer_id = db(), current_user.customer_id
    services = session.scalars(select(Service).where(
        Service.customer_id == customer_id, Service.expires_on.is_not(None)).order_by(Service.expires_on)).all()
    orders = {o.service_id: session.get(Invoice, o.invoice_id) for o in session.scalars(
        select(RenewalOrder).where(RenewalOrder.renewal_id.is_(None),
                                   RenewalOrder.service_id.in_([s.id for s in services] or [0])))}
    rows = [{"service": s, "price": renewals.renewal_price(s), "months": renewals.months_of(s),
             "next_expiry": renewals.add_months(s.expires_on, renewals.months_of(s)),
             "auto": renewals.auto_renews(session, s), "order": orders.get(s.id),
             "ended": s.valid_to is not None and s.valid_to <= s.expires_on}
            for s in services]
    settings = ensure_settings(session, customer_id)
    kinds = {k for k in settings.auto_renew_kinds.split(",") if k}
    return render_template("zone/credit/services.html", rows=rows, settings=settings, kinds=kinds,
                           kind_labels=KIND_LABELS)


def _short_message(_exc) -> str:
    return _("Your credit does not cover the renewal; nothing was issued. Top up the credit or renew by bank transfer.")


@bp.post("/credit/services/<int:service_id>/renew")
@login_required
@on_refusal(renewals.ShortCredit, redirect_to="zone.credit_services", message=_short_message)
@on_refusal(renewals.RenewalError, redirect_to="zone.credit_services")
def credit_service_renew(service_id: int):
    service = _own_service(service_id)
    how = parsing.choice(request.form.get("how", ""), ("credit", "transfer"))
    supplier = Supplier.from_config(current_app.config)
    if how == "transfer":
        order = renewals.order_renewal(db(), service, supplier, actor=current_user.actor)
        invoice = db().get(Invoice, order.invoice_id)
        flash(_("Invoice %(number)s for the renewal is issued; the service is renewed when it is paid.",
                number=invoice.number), "success")
        return redirect(url_for("zone.invoice_detail", invoice_id=invoice.id))
    renewal = renewals.renew(db(), service, supplier, paid_from=RenewalSource.CREDIT,
                             actor=current_user.actor)
    _send_outbox()
    flash(_("%(service)s is renewed until %(day)s.", service=service.name,
            day=format_date(renewal.new_expiry)),
          "success")
    return redirect(url_for("zone.credit_services"))


@bp.post("/credit/services/<int:service_id>/auto-renew")
@login_required
def credit_service_auto_renew(service_id: int):
    service = _own_service(service_id)
    value = parsing.choice(request.form.get("auto_renew", ""), ("on", "off", "kind"))
    renewals.set_service_auto_renew(db(), service, None if value == "kind" else value == "on",
                                    actor=current_user.actor)
    flash(_("The renewal setting is saved."), "success")
    return redirect(url_for("zone.credit_services"))


@bp.post("/credit/services/kinds")
@login_required
def credit_service_kinds():
    kinds = [parsing.choice(k, [str(v) for v in ServiceKind]) for k in request.form.getlist("kind")]
    renewals.set_auto_renew_kinds(db(), current_user.customer_id, kinds, actor=current_user.actor)
    flash(_("The renewal setting is saved."), "success")
    return redirect(url_for("zone.credit_services"))


@bp.post("/credit/notices")
@login_required
def credit_notices():
    threshold = parsing.optional(request.form.get("threshold"), parsing.amount, Decimal("0.00"))
    set_preferences(db(), current_user.customer_id,
                    low_credit_notices=request.form.get("low_credit") == "yes",
                    low_credit_threshold=threshold,
                    payment_request_emails=request.form.get("payment_emails") == "yes",
                    actor=current_user.actor)
    flash(_("The notice settings are saved."), "success")
    return redirect(url_for("zone.credit_services"))

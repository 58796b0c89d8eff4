"""Services with an expiry and their renewals (issue 15 item 4; docs/credit-services.md).

A service with ``expires_on`` is prepaid: it is paid up to and including that day, and a
renewal buys the next period (``renewal_months``: 1, 12, 24...; by default a month or a
year by ``period``). The rules (docs/facts/credit-accounts.md):

* a renewal **always extends from the previous expiry**, paid early or late: the new expiry
  is the previous one plus the period (calendar months; the 31st becomes the month's last
  day), never the day of payment plus the period. ``service_renewal`` is UNIQUE on (service,
  previous expiry): a period is renewed once;
* **automatic renewal** from the customer's credit (``billing.credit.pay_from_credit``) from
  ``renew_days_before`` (11) days before the expiry, when the service says so
  (``service.auto_renew``) or, when it says nothing, the customer's setting for its kind
  (``credit_service_settings.auto_renew_kinds``). Short credit: no invoice is issued, the
  customer is told (once a day), it is tried again the next day; when the expiry passes
  unrenewed the service **expires**: ``valid_to`` becomes its expiry (so RADIUS refuses it
  and the monthly run stops) and ``core.events.SERVICE_EXPIRED`` is emitted for whoever
  enforces access (billing imports no enforcement);
* **manual renewal** (:func:`renew` with ``RenewalSource.CREDIT``, the zone or an operator),
  or by a bank transfer (:func:`order_renewal`: the invoice is issued now, the renewal is
  made by the daily step once the invoice is paid);
* a renewal of an expired service reopens it (``valid_to`` back to none) and emits
  ``SERVICE_RENEWED``;
* device insurance's paid-until (``service.paid_until``) is its expiry, kept here.

The price of a renewal is the service's price per period (VAT included) times the months
over the period's months, to the haléř. Functions flush; the caller commits.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from billing.credit import account_of, credit_balance, pay_from_credit
from billing.credit.notices import ensure_settings, low_credit, queue_notice
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput, compute_document, money
from billing.ledger.balances import paid_amounts
from billing.models import (
    CreditServiceSettings,
    Customer,
    Invoice,
    NoticeKind,
    RenewalOrder,
    RenewalSource,
    Service,
    ServiceKind,
    ServicePeriod,
    ServiceRenewal,
)
from core import audit, events
from core.clock import today
from core.errors import Conflict, Invalid
from core.i18n import _l
from core.i18n import money as shown_money

RENEW_DAYS_BEFORE = 11  # CREDIT_RENEW_DAYS_BEFORE
ZERO = Decimal("0.00")


class RenewalError(Conflict, ValueError):
    """A renewal that cannot be made (no expiry, ordered already...); nothing was written."""


class ShortCredit(RenewalError):
    """The credit does not cover the renewal: no invoice was issued."""


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months; a day the month lacks becomes its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_of(service: Service) -> int:
    """The length of one renewal in months."""
    if service.renewal_months:
        return service.renewal_months
    return 12 if service.period == ServicePeriod.YEAR else 1


def period_months(service: Service) -> int:
    """The months the service's ``price`` is for."""
    return 12 if service.period == ServicePeriod.YEAR else 1


def renewal_price(service: Service, months: int | None = None) -> Decimal:
    months = months or months_of(service)
    return money(Decimal(service.price) * months / period_months(service))


def renewal_line(service: Service, previous: date, new: date, months: int) -> LineInput:
    start = previous + timedelta(days=1)
    label = (f"{service.name} – prodloužení {start.day}. {start.month}. {start.year} – "
             f"{new.day}. {new.month}. {new.year}")
    unit = "rok" if months % 12 == 0 else "měs."
    quantity = Decimal(months // 12 if months % 12 == 0 else months)
    price = renewal_price(service, months)
    return LineInput(label, quantity, money(price / quantity), Decimal(service.vat_rate), unit,
                     service.id)


def _settings(session: Session, customer_id: int) -> CreditServiceSettings | None:
    return session.get(CreditServiceSettings, customer_id)


def auto_renews(session: Session, service: Service) -> bool:
    """Whether the service renews itself from credit: its own switch, else the customer's
    setting for its kind."""
    if service.auto_renew is not None:
        return bool(service.auto_renew)
    settings = _settings(session, service.customer_id)
    kinds = {k for k in (settings.auto_renew_kinds if settings else "").split(",") if k}
    return service.kind in kinds


def set_auto_renew_kinds(session: Session, customer_id: int, kinds: list[str], *, actor: str) -> None:
    """The customer's per-kind switch ("renew every internet/insurance... from credit")."""
    unknown = [k for k in kinds if k not in {str(v) for v in ServiceKind}]
    if unknown:
        raise Invalid(_l("unknown kind of service: %(kinds)s", kinds=", ".join(unknown)))
    settings = ensure_settings(session, customer_id)
    old = settings.auto_renew_kinds
    settings.auto_renew_kinds = ",".join(sorted(set(kinds)))
    session.flush()
    audit.record(session, "credit.auto_renew_kinds", actor=actor, customer_id=customer_id,
                 old_value=old, new_value=settings.auto_renew_kinds)


def set_service_auto_renew(session: Session, service: Service, value: bool | None, *,
                           actor: str) -> None:
    """The service's own switch (None: follow the customer's setting for its kind)."""
    old = service.auto_renew
    service.auto_renew = value
    session.flush()
    audit.record(session, "service.auto_renew", actor=actor, customer_id=service.customer_id,
                 old_value=str(old), new_value=str(value), details={"service": service.id})


def set_expiry(session: Session, service_id: int, expires_on: date | None, *, actor: str,
               months: int | None = None) -> Service:
    """An operator puts a service on prepaid periods (``expires_on``: paid up to and
    including that day; None takes it off) with ``months`` per renewal (None: by its
    period). Audited. A renewal later always continues from this day."""
    if months is not None and not 1 <= months <= 120:
        raise Invalid(_l("a renewal lasts 1 to 120 months"))
    service = _locked(session, service_id)
    old = service.expires_on
    service.expires_on = expires_on
    service.renewal_months = months
    if service.kind == ServiceKind.INSURANCE and expires_on is not None:
        service.paid_until = expires_on
    session.flush()
    audit.record(session, "service.expiry_set", actor=actor, customer_id=service.customer_id,
                 old_value=old.isoformat() if old else None,
                 new_value=expires_on.isoformat() if expires_on else None,
                 details={"service": service.id, "months": months})
    return service


def _locked(session: Session, service_id: int) -> Service:
    service = session.scalar(select(Service).where(Service.id == service_id).with_for_update())
    if service is None:
        raise RenewalError(_l("no service %(ref)s", ref=service_id))
    session.refresh(service)
    return service


def renew(session: Session, service: Service, supplier: Supplier | None, *,
          paid_from: RenewalSource, actor: str, on: date | None = None,
          invoice: Invoice | None = None) -> ServiceRenewal:
    """Renew ``service`` for one period from its current expiry.

    ``paid_from`` CREDIT: the renewal's invoice is issued and paid from the customer's credit
    (ShortCredit, before anything is written, when the credit does not cover it); TRANSFER:
    ``invoice`` is the paid invoice of a renewal order; OPERATOR: the invoice is issued and
    left to be paid as usual.
    """
    on = on or today()
    service = _locked(session, service.id)
    if service.expires_on is None:
        raise RenewalError(_l("service %(name)s has no expiry to renew", name=service.name))
    previous = service.expires_on
    months = months_of(service)
    new = add_months(previous, months)
    line = renewal_line(service, previous, new, months)
    customer = session.get(Customer, service.customer_id)
    if invoice is None:
        if supplier is None:
            raise RenewalError(_l("the supplier's details are needed to issue the renewal's invoice"))
        if paid_from == RenewalSource.CREDIT:
            _check_credit(session, customer.id, [line])
        invoice = issue_invoice(session, customer, [line], supplier,
                                IssueOptions(issue_date=on, taxable_date=on, actor=actor,
                                             note=f"Prodloužení služby {service.name}"))
        if paid_from == RenewalSource.CREDIT:
            result = pay_from_credit(session, invoice, actor=actor, on=on)
            if not (result.paid or result.outcome == "already_paid"):
                raise ShortCredit(_l("the credit does not cover renewing %(name)s",
                                     name=service.name))
            low_credit(session, on, customer_ids=[customer.id])  # fell under the threshold?
    renewal = ServiceRenewal(
        service_id=service.id, customer_id=customer.id, previous_expiry=previous,
        new_expiry=new, months=months, amount=invoice.total if invoice else line.unit_price,
        paid_from=str(paid_from), invoice_id=invoice.id if invoice else None, actor=actor,
    )
    session.add(renewal)
    reopened = service.valid_to is not None and service.valid_to <= previous
    service.expires_on = new
    if service.kind == ServiceKind.INSURANCE:
        service.paid_until = new  # device insurance: covered until its expiry
    if reopened:
        service.valid_to = None
    session.flush()
    audit.record(session, "service.renewed", actor=actor, customer_id=customer.id,
                 old_value=previous.isoformat(), new_value=new.isoformat(),
                 details={"service": service.id, "paid_from": str(paid_from),
                          "invoice": invoice.number if invoice else None,
                          "reopened": reopened})
    events.emit(session, events.SERVICE_RENEWED, service_id=service.id,
                customer_id=customer.id, expires_on=new, reopened=reopened, actor=actor)
    queue_notice(session, customer.id, NoticeKind.RENEWED, f"renewed:{service.id}:{previous}",
                 service_id=service.id, service=service.name, expires_on=new.isoformat(),
                 amount=str(renewal.amount), paid_from=str(paid_from))
    return renewal


def _check_credit(session: Session, customer_id: int, lines: list[LineInput]) -> None:
    account = account_of(session, customer_id)
    if account is None or getattr(account, "closed_at", None) is not None:
        raise ShortCredit(_l("the customer has no open credit account"))
    if getattr(account, "currency", "CZK") != "CZK":
        raise ShortCredit(_l("a %(currency)s credit does not pay CZK services",
                             currency=account.currency))
    need = compute_document(lines, True).total_net  # the credit is kept without VAT
    if credit_balance(session, customer_id) < need:
        raise ShortCredit(_l("the credit is short: %(need)s without VAT needed",
                             need=shown_money(need, "CZK", text=str(need))))


def order_renewal(session: Session, service: Service, supplier: Supplier, *, actor: str,
                  on: date | None = None) -> RenewalOrder:
    """A renewal paid by bank transfer: its invoice now, the renewal once it is paid."""
    on = on or today()
    service = _locked(session, service.id)
    if service.expires_on is None:
        raise RenewalError(_l("service %(name)s has no expiry to renew", name=service.name))
    waiting = session.scalar(select(RenewalOrder).where(RenewalOrder.service_id == service.id,
                                                        RenewalOrder.renewal_id.is_(None)))
    if waiting is not None:
        raise RenewalError(_l("a renewal of %(name)s is already ordered and waits for payment",
                               name=service.name))
    months = months_of(service)
    line = renewal_line(service, service.expires_on, add_months(service.expires_on, months), months)
    customer = session.get(Customer, service.customer_id)
    invoice = issue_invoice(session, customer, [line], supplier,
                            IssueOptions(issue_date=on, taxable_date=on, actor=actor,
                                         note=f"Prodloužení služby {service.name}"))
    order = RenewalOrder(service_id=service.id, invoice_id=invoice.id,
                         previous_expiry=service.expires_on, months=months)
    session.add(order)
    session.flush()
    audit.record(session, "service.renewal_ordered", actor=actor, customer_id=customer.id,
                 new_value=invoice.number, details={"service": service.id})
    return order


def complete_paid_orders(session: Session, *, actor: str, on: date | None = None) -> list[ServiceRenewal]:
    """Renew the services whose renewal orders' invoices are paid now."""
    orders = list(session.scalars(select(RenewalOrder).where(RenewalOrder.renewal_id.is_(None))))
    paid = paid_amounts(session, [o.invoice_id for o in orders])
    done = []
    for order in orders:
        invoice = session.get(Invoice, order.invoice_id)
        if paid.get(invoice.id, ZERO) < invoice.total:
            continue
        service = session.get(Service, order.service_id)
        renewal = renew(session, service, None, paid_from=RenewalSource.TRANSFER, actor=actor,
                        on=on, invoice=invoice)
        order.renewal_id = renewal.id
        done.append(renewal)
    session.flush()
    return done


@dataclass
class RenewalReport:
    renewed: list[int] = field(default_factory=list)  # service ids
    short: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    transfers: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"renewed": len(self.renewed), "short": len(self.short),
                "expired": len(self.expired), "paid_by_transfer": len(self.transfers)}


def due_for_renewal(session: Session, on: date, days_before: int) -> list[Service]:
    """Services with an expiry within ``days_before`` days (today included), not ended."""
    return list(session.scalars(
        select(Service)
        .where(Service.expires_on.is_not(None), Service.expires_on >= on,
               Service.expires_on <= on + timedelta(days=days_before),
               or_(Service.valid_to.is_(None), Service.valid_to > Service.expires_on))
        .order_by(Service.expires_on, Service.id)
    ))


def expire_unrenewed(session: Session, on: date, *, actor: str) -> list[int]:
    """Services whose expiry has passed unrenewed: ``valid_to`` = the expiry, the event,
    the audit and the customer's notice. Once per service and expiry."""
    services = list(session.scalars(
        select(Service).where(Service.expires_on.is_not(None), Service.expires_on < on,
                              or_(Service.valid_to.is_(None), Service.valid_to > Service.expires_on))
        .order_by(Service.id)
    ))
    for service in services:
        service.valid_to = service.expires_on
        session.flush()
        audit.record(session, "service.expired", actor=actor, customer_id=service.customer_id,
                     new_value=service.expires_on.isoformat(), details={"service": service.id})
        events.emit(session, events.SERVICE_EXPIRED, service_id=service.id,
                    customer_id=service.customer_id, expires_on=service.expires_on, actor=actor)
        queue_notice(session, service.customer_id, NoticeKind.EXPIRED,
                     f"expired:{service.id}:{service.expires_on}", service_id=service.id,
                     service=service.name, expires_on=service.expires_on.isoformat())
    return [s.id for s in services]


def run_renewals(session: Session, supplier: Supplier | None, on: date | None = None, *,
                 days_before: int = RENEW_DAYS_BEFORE, actor: str = "system:renewals") -> RenewalReport:
    """The daily renewals: paid transfer orders, automatic renewals from credit (each in a
    savepoint: a short credit leaves nothing), then the expiry of what was not renewed."""
    on = on or today()
    report = RenewalReport()
    report.transfers = [r.service_id for r in complete_paid_orders(session, actor=actor, on=on)]
    for service in due_for_renewal(session, on, days_before):
        if not auto_renews(session, service):
            continue
        try:
            with session.begin_nested():
                renew(session, service, supplier, paid_from=RenewalSource.CREDIT, actor=actor, on=on)
            report.renewed.append(service.id)
        except ShortCredit as exc:
            report.short.append(service.id)
            queue_notice(session, service.customer_id, NoticeKind.RENEWAL_SHORT,
                         f"renewal_short:{service.id}:{on}", service_id=service.id,
                         service=service.name, expires_on=service.expires_on.isoformat(),
                         amount=str(renewal_price(service)), reason=exc.message)
    report.expired = expire_unrenewed(session, on, actor=actor)
    session.flush()
    return report


def daily_step(session: Session, ctx) -> dict:
    """billing.credit.daily's step: ``ctx.on``; the supplier and the days ahead from the
    context when it carries them (``supplier``, ``settings.renew_days_before``)."""
    days = getattr(ctx.settings, "renew_days_before", RENEW_DAYS_BEFORE)
    report = run_renewals(session, getattr(ctx, "supplier", None), ctx.on, days_before=days,
                          actor=ctx.actor)
    return report.as_dict()

"""Ending a prepaid service before its expiry: the unused days go back to the credit
(issue 15 item 4, "ended mid-period"; docs/credit-services.md "Early end").

A prepaid service (``expires_on``) is paid up to its expiry by its renewals, each with its
invoice. Ending it on ``last_day`` before the expiry returns, for each renewal whose period
reaches past ``last_day`` and whose invoice is paid, the unused days of that period:

* unused = the days from ``last_day + 1`` to the period's end (both included), out of the
  period's days (from the day after the previous expiry to the new expiry); the amount is
  the renewal line's gross × unused / period days, to the haléř;
* a **credit note** (opravný daňový doklad) of that renewal invoice credits the amount on
  the renewal's line (its VAT as the difference, ``billing.invoicing.issue.credit_invoice``);
* its credit goes **to the credit account**, not to the customer's other invoices: the
  credit grows by the credit note's base (the credit is kept without VAT; the VAT stays
  declared as on a top-up), one ``credit_return`` posting and a ``credit_return`` row (which
  keeps the settlement from applying the credit note elsewhere).

An unpaid renewal invoice is corrected by a credit note as usual (it lowers what is owed).
Refused, with nothing written, when there is nothing to return: the service has no expiry,
ends on or after it, no renewal invoice covers the days after ``last_day`` (an expiry set by
hand), or the customer has no open credit account in the invoice's currency. The service's
``valid_to`` becomes ``last_day`` (its expiry stays, so it is "ended", not "expired"), all
audited with the actor. Functions flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.credit.accounts import CreditConflict, account_of, credit_balance
from billing.invoicing.issue import CreditLine, credit_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import money
from billing.ledger import postings
from billing.ledger.balances import paid_amounts
from billing.models import (
    CreditReturn,
    Invoice,
    Service,
    ServiceKind,
    ServiceRenewal,
)
from billing.models import TransactionKind as TK
from core import audit
from core.clock import today

ZERO = Decimal("0.00")


class NothingToReturn(CreditConflict):
    """Ending the service early returns nothing (nothing was written)."""


@dataclass(frozen=True)
class UnusedPart:
    renewal: ServiceRenewal
    invoice: Invoice
    line_id: int
    days: int
    period_days: int
    amount: Decimal  # gross, to the haléř
    paid: bool  # the invoice is paid: the credit note's credit goes to the credit account


@dataclass
class EarlyEnd:
    service: Service
    last_day: date
    parts: list[UnusedPart] = field(default_factory=list)
    credit_notes: list[Invoice] = field(default_factory=list)
    returned: Decimal = ZERO  # what the credit grew by (without VAT)
    credit_after: Decimal = ZERO


def unused_parts(session: Session, service: Service, last_day: date) -> list[UnusedPart]:
    """What ending ``service`` on ``last_day`` leaves unused, per renewal (newest first)."""
    renewals = list(session.scalars(
        select(ServiceRenewal).where(ServiceRenewal.service_id == service.id,
                                     ServiceRenewal.new_expiry > last_day,
                                     ServiceRenewal.invoice_id.is_not(None))
        .order_by(ServiceRenewal.new_expiry.desc())))
    invoices = {r.invoice_id: session.get(Invoice, r.invoice_id) for r in renewals}
    paid = paid_amounts(session, list(invoices))
    parts = []
    for renewal in renewals:
        invoice = invoices[renewal.invoice_id]
        start = renewal.previous_expiry + timedelta(days=1)
        period_days = (renewal.new_expiry - start).days + 1
        first_unused = max(start, last_day + timedelta(days=1))
        days = (renewal.new_expiry - first_unused).days + 1
        line = next((ln for ln in invoice.lines if ln.service_id == service.id), None)
        if days <= 0 or line is None or period_days <= 0:
            continue
        amount = money(line.gross * days / period_days)
        if amount <= ZERO:
            continue
        parts.append(UnusedPart(renewal, invoice, line.id, days, period_days, amount,
                                paid.get(invoice.id, ZERO) >= invoice.total))
    return parts


def _day(d: date) -> str:
    return f"{d.day}. {d.month}. {d.year}"


def end_prepaid_early(session: Session, service_id: int, last_day: date, supplier: Supplier, *,
                      actor: str, on: date | None = None) -> EarlyEnd:
    """End the prepaid service ``service_id`` on ``last_day`` (before its expiry) and return
    the unused days to the customer's credit (see the module's docstring)."""
    on = on or today()
    service = session.scalar(select(Service).where(Service.id == service_id).with_for_update())
    if service is None:
        raise NothingToReturn(f"no service {service_id}")
    session.refresh(service)
    if service.expires_on is None:
        raise NothingToReturn(f"service {service.name} is not prepaid (it has no expiry): "
                              "end it as usual; nothing is returned")
    if last_day >= service.expires_on:
        raise NothingToReturn(
            f"service {service.name} is paid until {_day(service.expires_on)}: ending it on "
            f"{_day(last_day)} leaves no unused day to return")
    if last_day < service.valid_from:
        raise NothingToReturn(f"the service cannot end before it starts ({_day(service.valid_from)})")
    if service.valid_to is not None and service.valid_to <= last_day:
        raise NothingToReturn(f"service {service.name} has ended already ({_day(service.valid_to)})")
    parts = unused_parts(session, service, last_day)
    if not parts:
        raise NothingToReturn(
            f"no renewal invoice of {service.name} pays for the days after {_day(last_day)} "
            "(its expiry was set by hand): there is nothing to return")
    account = account_of(session, service.customer_id)
    if any(p.paid for p in parts):
        if account is None or account.closed_at is not None:
            raise NothingToReturn("the customer has no open credit account to return the unused "
                                  "days to")
        if any(p.paid and p.invoice.currency != account.currency for p in parts):
            raise NothingToReturn(f"the credit account is kept in {account.currency}; the "
                                  "renewal was invoiced in another currency")

    result = EarlyEnd(service, last_day, parts)
    for part in parts:
        reason = (f"ukončení služby {service.name} k {_day(last_day)}: nevyčerpaných "
                  f"{part.days} z {part.period_days} dní předplaceného období")
        note = credit_invoice(session, part.invoice, [CreditLine(part.line_id, amount=part.amount)],
                              supplier, reason, issue_date=on, actor=actor, settle=not part.paid)
        result.credit_notes.append(note)
        if not part.paid:
            continue
        gross, net, vat = -note.total, -note.total_net, -note.total_vat
        session.add(CreditReturn(
            customer_id=service.customer_id, service_id=service.id, renewal_id=part.renewal.id,
            invoice_id=part.invoice.id, credit_note_id=note.id, last_day=last_day,
            days=part.days, period_days=part.period_days, amount=gross, credit_amount=net,
            actor=actor))
        session.flush()
        key = postings.account_key
        postings.record(session, [postings.Posting(
            TK.CREDIT_RETURN,
            [(key("prepaid_credit", service.customer_id), gross),
             (key("credit", service.customer_id), -net),
             (key("output_vat"), -vat)],
            booked_on=on, actor=actor, customer_id=service.customer_id, invoice_id=note.id,
            description=f"Vrácení do kreditu: {service.name}, dobropis {note.number}",
        )])
        result.returned += net

    old = service.valid_to
    service.valid_to = last_day
    if service.kind == ServiceKind.INSURANCE:
        service.paid_until = last_day
    session.flush()
    result.credit_after = credit_balance(session, service.customer_id)
    audit.record(session, "service.ended_early", actor=actor, customer_id=service.customer_id,
                 field="valid_to", old_value=old, new_value=last_day,
                 details={"service": service.id, "name": service.name,
                          "expires_on": service.expires_on,
                          "credit_notes": [n.number for n in result.credit_notes],
                          "returned_to_credit": str(result.returned),
                          "days": [p.days for p in parts]})
    return result

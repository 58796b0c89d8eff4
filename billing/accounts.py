"""Read side of a customer's money: invoice states, open amounts, balance, overdue debt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.db import money_sum
from billing.ledger import balance
from billing.models import Allocation, Invoice

ZERO = Decimal("0.00")

PAID, PARTLY_PAID, UNPAID, OVERDUE, CREDIT_NOTE = (
    "paid",
    "partly_paid",
    "unpaid",
    "overdue",
    "credit_note",
)


def invoice_status(total: Decimal, paid: Decimal, due_date: date, on: date, kind: str) -> str:
    if kind == "credit_note":
        return CREDIT_NOTE
    if paid >= total:
        return PAID
    if due_date < on:
        return OVERDUE
    return PARTLY_PAID if paid > 0 else UNPAID


@dataclass(frozen=True)
class InvoiceState:
    invoice: Invoice
    paid: Decimal
    status: str

    @property
    def open_amount(self) -> Decimal:
        if self.invoice.kind == "credit_note":
            return ZERO
        return max(self.invoice.total - self.paid, ZERO)

    @property
    def is_open(self) -> bool:
        return self.open_amount > 0


def paid_amounts(session: Session, invoice_ids) -> dict[int, Decimal]:
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Allocation.invoice_id, money_sum(Allocation.amount))
        .where(Allocation.invoice_id.in_(ids))
        .group_by(Allocation.invoice_id)
    )
    return {invoice_id: amount for invoice_id, amount in rows}


def states_for(session: Session, invoices: list[Invoice], on: date) -> list[InvoiceState]:
    paid = paid_amounts(session, (i.id for i in invoices))
    result = []
    for inv in invoices:
        p = paid.get(inv.id, ZERO)
        result.append(InvoiceState(inv, p, invoice_status(inv.total, p, inv.due_date, on, inv.kind)))
    return result


def customer_invoices(session: Session, customer_id: int, on: date) -> list[InvoiceState]:
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    ).all()
    return states_for(session, list(invoices), on)


def open_invoices(session: Session, customer_id: int, on: date) -> list[InvoiceState]:
    """Unpaid or partly paid invoices, oldest first (the order payments settle them)."""
    states = customer_invoices(session, customer_id, on)
    opened = [s for s in states if s.is_open]
    opened.sort(key=lambda s: (s.invoice.due_date, s.invoice.issue_date, s.invoice.id))
    return opened


@dataclass(frozen=True)
class AccountSummary:
    balance: Decimal  # negative = debt
    open_total: Decimal
    overdue_total: Decimal
    oldest_overdue_due: date | None


def account_summary(session: Session, customer_id: int, on: date) -> AccountSummary:
    opened = open_invoices(session, customer_id, on)
    overdue = [s for s in opened if s.invoice.due_date < on]
    return AccountSummary(
        balance=balance(session, customer_id),
        open_total=sum((s.open_amount for s in opened), ZERO),
        overdue_total=sum((s.open_amount for s in overdue), ZERO),
        oldest_overdue_due=min((s.invoice.due_date for s in overdue), default=None),
    )

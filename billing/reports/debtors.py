"""Debtors by age: customers with open overdue invoices, as of a date, their open amounts in
buckets by days past due (0-30, 31-60, 61-90, over 90).

"Open" is what billing/ledger/balances.py calls open: an invoice's total minus what was
allocated to it (payments and credit notes), for every kind but the credit note; "overdue"
is a due date before the report's date. As of a past date only what existed then counts:
invoices issued by that day and allocations made by its end (Prague time); as of today the
amounts are exactly ``balances.open_invoices``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select, type_coerce

from billing.models import Allocation, Customer, Invoice, InvoiceKind
from core.clock import PRAGUE
from core.db import Money

ZERO = Decimal("0.00")
# (label, first day past due, last day past due or None)
BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


def bucket_of(days_past_due: int) -> str:
    """The label of the bucket ``days_past_due`` falls in (0-30 includes the due day)."""
    for label, first, last in BUCKETS:
        if days_past_due >= first and (last is None or days_past_due <= last):
            return label
    raise ValueError(f"not past due: {days_past_due} days")


@dataclass(frozen=True)
class OverdueInvoice:
    number: str
    due_date: date
    days_past_due: int
    open_amount: Decimal

    @property
    def bucket(self) -> str:
        return bucket_of(self.days_past_due)


@dataclass
class Debtor:
    customer_id: int
    customer_number: str
    name: str
    email: str | None
    invoices: list[OverdueInvoice] = field(default_factory=list)

    def amount(self, bucket: str) -> Decimal:
        return sum((i.open_amount for i in self.invoices if i.bucket == bucket), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((i.open_amount for i in self.invoices), ZERO)

    @property
    def oldest_due(self) -> date:
        return min(i.due_date for i in self.invoices)

    @property
    def days_past_due(self) -> int:
        return max(i.days_past_due for i in self.invoices)


@dataclass
class DebtorsReport:
    on: date
    debtors: list[Debtor]

    @property
    def buckets(self) -> list[str]:
        return [label for label, _, _ in BUCKETS]

    def total(self, bucket: str | None = None) -> Decimal:
        if bucket is None:
            return sum((d.total for d in self.debtors), ZERO)
        return sum((d.amount(bucket) for d in self.debtors), ZERO)


def debtors_report(session, on: date) -> DebtorsReport:
    """Customers with an invoice due before ``on`` still open at the end of ``on``, the
    largest debt first. ``on`` is a Prague date (usually today)."""
    cutoff = datetime.combine(on + timedelta(days=1), time(0), tzinfo=PRAGUE)
    paid = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
        .where(Allocation.created_at < cutoff)
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    open_amount = Invoice.total - func.coalesce(paid.c.paid, 0)
    rows = session.execute(
        select(
            Customer.id, Customer.customer_number, Customer.name, Customer.email,
            Invoice.number, Invoice.due_date, type_coerce(open_amount, Money()),
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(
            Invoice.kind != InvoiceKind.CREDIT_NOTE.value,
            Invoice.issue_date <= on,
            Invoice.due_date < on,
            open_amount > 0,
        )
        .order_by(Customer.id, Invoice.due_date, Invoice.id)
    ).all()
    debtors: dict[int, Debtor] = {}
    for customer_id, number, name, email, invoice_number, due, amount in rows:
        debtor = debtors.get(customer_id)
        if debtor is None:
            debtor = debtors[customer_id] = Debtor(customer_id, number, name, email)
        debtor.invoices.append(
            OverdueInvoice(invoice_number, due, (on - due).days, Decimal(amount))
        )
    ordered = sorted(debtors.values(), key=lambda d: (-d.total, d.customer_number))
    return DebtorsReport(on, ordered)

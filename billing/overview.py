"""The money side of the console's dashboard (read only): open and overdue debt by age,
payments received today and this month, the unmatched queue's size.

"Open" is what an issued invoice (not a credit note) still lacks: its total less what was
allocated to it (billing/ledger/balances.py, ``InvoiceState.open_amount``). Its age is the
number of days past its due date, on the given day (Europe/Prague calendar days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from billing.models import Allocation, BankTransaction, BankTransactionStatus, Invoice, InvoiceKind
from core.db import money_sum

ZERO = Decimal("0.00")

# (key, first day overdue, last day overdue or None): the debtors' report's buckets
AGE_BUCKETS = (("0-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
NOT_DUE = "not_due"


@dataclass(frozen=True)
class DebtBucket:
    key: str  # not_due | 0-30 | 31-60 | 61-90 | 90+
    amount: Decimal
    invoices: int
    customers: int


@dataclass(frozen=True)
class Debt:
    buckets: tuple[DebtBucket, ...]  # not due first, then by age

    @property
    def open_total(self) -> Decimal:
        return sum((b.amount for b in self.buckets), ZERO)

    @property
    def overdue(self) -> tuple[DebtBucket, ...]:
        return tuple(b for b in self.buckets if b.key != NOT_DUE)

    @property
    def overdue_total(self) -> Decimal:
        return sum((b.amount for b in self.overdue), ZERO)

    def bucket(self, key: str) -> DebtBucket:
        return next(b for b in self.buckets if b.key == key)


def debt_by_age(session: Session, on: date) -> Debt:
    """Open amounts of all invoices, by how long they are overdue on ``on`` (one query)."""
    paid = (select(Allocation.invoice_id.label("invoice_id"),
                   func.sum(Allocation.amount).label("paid"))
            .group_by(Allocation.invoice_id).subquery())
    open_amount = (Invoice.total - func.coalesce(paid.c.paid, 0))
    whens = [(Invoice.due_date >= on, literal(NOT_DUE))]
    for key, _first, last in AGE_BUCKETS:
        if last is not None:
            whens.append((Invoice.due_date >= on - timedelta(days=last), literal(key)))
    bucket = case(*whens, else_=literal(AGE_BUCKETS[-1][0])).label("bucket")
    opened = (select(bucket, open_amount.label("open"), Invoice.customer_id)
              .outerjoin(paid, paid.c.invoice_id == Invoice.id)
              .where(Invoice.kind != InvoiceKind.CREDIT_NOTE.value, open_amount > 0)
              .subquery())
    rows = session.execute(
        select(opened.c.bucket, money_sum(opened.c.open), func.count(),
               func.count(func.distinct(opened.c.customer_id)))
        .group_by(opened.c.bucket)
    ).all()
    found = {key: (amount, n, customers) for key, amount, n, customers in rows}
    keys = (NOT_DUE, *(key for key, _f, _l in AGE_BUCKETS))
    return Debt(tuple(DebtBucket(key, Decimal(found[key][0]) if key in found else ZERO,
                                 found.get(key, (0, 0, 0))[1], found.get(key, (0, 0, 0))[2])
                      for key in keys))


@dataclass(frozen=True)
class Received:
    amount: Decimal
    count: int


@dataclass(frozen=True)
class Payments:
    today: Received
    this_month: Received
    unmatched: int  # movements waiting in the queue (held duplicates included)
    unmatched_amount: Decimal


# what came in from customers' bank payments: paired, or waiting to be paired by hand
_RECEIVED = (BankTransactionStatus.MATCHED.value, BankTransactionStatus.UNMATCHED.value)


def payments(session: Session, on: date) -> Payments:
    """Incoming CZK bank payments booked on ``on`` and in its month so far (paired or not,
    without dismissed movements), and the unmatched queue."""
    month_start = on.replace(day=1)
    incoming = (BankTransaction.amount > 0, BankTransaction.currency == "CZK",
                BankTransaction.status.in_(_RECEIVED))
    row = session.execute(select(
        money_sum(case((BankTransaction.booked_on == on, BankTransaction.amount), else_=0)),
        func.coalesce(func.sum(case((BankTransaction.booked_on == on, 1), else_=0)), 0),
        money_sum(BankTransaction.amount),
        func.count(),
    ).where(*incoming, BankTransaction.booked_on >= month_start,
            BankTransaction.booked_on <= on)).one()
    queue = session.execute(select(func.count(), money_sum(BankTransaction.amount)).where(
        BankTransaction.status == BankTransactionStatus.UNMATCHED.value)).one()
    return Payments(today=Received(Decimal(row[0]), int(row[1])),
                    this_month=Received(Decimal(row[2]), int(row[3])),
                    unmatched=int(queue[0]), unmatched_amount=Decimal(queue[1]))


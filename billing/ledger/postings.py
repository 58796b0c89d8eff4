"""The append-only ledger: every money event of a customer is one signed entry.

Balance = sum of entries; negative is debt, positive is credit. Entries are never updated
or deleted (the database refuses it); :func:`reverse` writes the opposite entry.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import LedgerEntry
from core.clock import today
from core.db import money_sum


def post(
    session: Session,
    customer_id: int,
    kind: str,
    amount: Decimal,
    *,
    booked_on: date | None = None,
    invoice_id: int | None = None,
    bank_transaction_id: int | None = None,
    description: str = "",
) -> LedgerEntry:
    entry = LedgerEntry(
        customer_id=customer_id,
        kind=kind,
        amount=amount,
        booked_on=booked_on or today(),
        invoice_id=invoice_id,
        bank_transaction_id=bank_transaction_id,
        description=description,
    )
    session.add(entry)
    session.flush()
    return entry


def reverse(session: Session, entry: LedgerEntry, description: str = "") -> LedgerEntry:
    rev = LedgerEntry(
        customer_id=entry.customer_id,
        kind="reversal",
        amount=-entry.amount,
        booked_on=today(),
        invoice_id=entry.invoice_id,
        bank_transaction_id=entry.bank_transaction_id,
        reverses_id=entry.id,
        description=description or f"storno #{entry.id}",
    )
    session.add(rev)
    session.flush()
    return rev


def balance(session: Session, customer_id: int) -> Decimal:
    return session.scalar(
        select(money_sum(LedgerEntry.amount)).where(LedgerEntry.customer_id == customer_id)
    )

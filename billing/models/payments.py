"""Bank movements and their allocation to invoices (the ledger: billing/models/ledger.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now
from core.db import Base


class StatementImport(Base):
    """One imported bank-statement file."""

    __tablename__ = "statement_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    file_format: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(40))
    imported_at: Mapped[datetime] = mapped_column(default=now)
    new_transactions: Mapped[int] = mapped_column(default=0)
    duplicate_transactions: Mapped[int] = mapped_column(default=0)


class BankTransactionStatus(StrEnum):
    """``bank_transaction.status``."""

    MATCHED = "matched"  # paired to ``customer_id``
    UNMATCHED = "unmatched"  # waiting in the queue for an operator
    OUTGOING = "outgoing"  # money out: not paired
    DISMISSED = "dismissed"  # an operator put it aside (not ours to pair); can be restored
    # a cash payment whose receipt was cancelled (billing/cash/cancellation.py): never paired
    CANCELLED = "cancelled"


class BankTransaction(Base):
    """One movement on one of our bank accounts, stored once per (account, bank id)."""

    __tablename__ = "bank_transaction"
    __table_args__ = (
        UniqueConstraint("source_account", "bank_tx_id", name="uq_bank_tx"),
        # finding a movement already stored from another file (billing.bank.importing)
        Index("ix_bank_tx_lookalike", "source_account", "booked_on", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_account: Mapped[str] = mapped_column(String(40))
    bank_tx_id: Mapped[str] = mapped_column(String(64))
    booked_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column()  # signed: + incoming, - outgoing
    currency: Mapped[str] = mapped_column(String(3), default="CZK")
    variable_symbol: Mapped[str | None] = mapped_column(String(10), index=True)
    specific_symbol: Mapped[str | None] = mapped_column(String(10))
    constant_symbol: Mapped[str | None] = mapped_column(String(10))
    counter_account: Mapped[str | None] = mapped_column(String(60))
    counter_name: Mapped[str | None] = mapped_column(String(140))
    message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(  # BankTransactionStatus
        String(10), default=BankTransactionStatus.UNMATCHED.value
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    statement_import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_import.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # a suspected duplicate: it looks like this movement, stored from a statement in another
    # format (the same date, amount, symbols, counter-account, another id); held in the
    # unmatched queue instead of paired (docs/bank-statements.md)
    # the movement this one is suspected to repeat (another file, another format); a plain
    # id, not a foreign key: movements are never deleted (the append-only guard), and a key
    # would make SQLite rebuild this table, which the ledger's rows reference (migration 0009)
    duplicate_of: Mapped[int | None] = mapped_column(Integer)

    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="bank_transaction", foreign_keys="Allocation.bank_transaction_id"
    )


ONE_SOURCE = (
    "(CASE WHEN bank_transaction_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN credit_note_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN credit_payment_id IS NULL THEN 0 ELSE 1 END) = 1"
)


class Allocation(Base):
    """Part of a payment (or of a credit note) applied to an invoice."""

    __tablename__ = "allocation"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        # exactly one source: a bank payment, a credit note, or the prepaid credit account
        # (migration 0018 added the third)
        CheckConstraint(ONE_SOURCE, name="one_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    bank_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_transaction.id"), index=True
    )
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    # a payment request paid from the prepaid credit account (billing/credit/)
    credit_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_payment.id"), index=True
    )
    amount: Mapped[Decimal] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=now)

    bank_transaction: Mapped[BankTransaction | None] = relationship(
        back_populates="allocations", foreign_keys=[bank_transaction_id]
    )

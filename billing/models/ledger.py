"""The double-entry ledger: accounts, transactions and their legs (docs/ledger.md).

Every money movement is one :class:`LedgerTransaction` with two or more :class:`LedgerLeg`
rows whose signed amounts sum to zero (debit +, credit -). A balance is a sum of legs, never
a column that is updated. Legs are written only by :mod:`billing.ledger.postings`, legs
before their transaction's header; the database refuses a header whose legs do not balance,
a leg added to a closed transaction, and any UPDATE or DELETE of a leg (migration 0008).

``ledger_entry`` is a read-only view over the legs that keeps the customer's view of the
old single-entry ledger (one row per invoice, credit note, payment and reversal; balance =
sum, negative = debt): :class:`LedgerEntry`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base, Money, UTCDateTime


class AccountKind(enum.StrEnum):
    """What a ledger account holds; the sign of its balance (sum of legs) in brackets."""

    RECEIVABLE = "receivable"  # per customer: invoiced and not yet settled (+)
    PREPAID_CREDIT = "prepaid_credit"  # per customer: paid or credited, not yet applied (-)
    VOIP_LINE_CREDIT = "voip_line_credit"  # per VoIP line: its prepaid call credit (-)
    BANK_CLEARING = "bank_clearing"  # money received on our bank accounts (+)
    REVENUE = "revenue"  # invoiced supplies without VAT (-)
    OUTPUT_VAT = "output_vat"  # VAT on invoices and credit notes (-)
    ADVANCES = "advances"  # advance invoices (payment requests, no tax document) (-)
    VOIP_PREPAID = "voip_prepaid"  # invoiced VoIP coupons not yet called away (+)
    OPENING_BALANCE = "opening_balance"  # the other side of opening balances (+)
    CASH = "cash"  # the till: cash received from customers (+)
    CREDIT = "credit"  # per customer: the prepaid credit account, without VAT (-)
    REFUNDS = "refunds"  # credit to be returned to customers' bank accounts (-)


# the accounts that belong to one customer / one VoIP line; the rest exist once
CUSTOMER_ACCOUNTS = (AccountKind.RECEIVABLE, AccountKind.PREPAID_CREDIT)
LINE_ACCOUNTS = (AccountKind.VOIP_LINE_CREDIT,)
# a customer's prepaid credit account (billing/credit/): owned by the customer, but not part
# of the customer's balance (it is money held for later, with its VAT already declared)
CREDIT_ACCOUNTS = (AccountKind.CREDIT,)


class TransactionKind(enum.StrEnum):
    INVOICE = "invoice"  # an invoice issued (regular, goods, advance)
    CREDIT_NOTE = "credit_note"  # a corrective tax document
    PAYMENT = "payment"  # a bank payment paired with a customer
    REVERSAL = "reversal"  # a payment unpaired (or any transaction reversed)
    ALLOCATION = "allocation"  # credit applied to an invoice (one allocation row)
    VOIP_TOPUP = "voip_topup"  # a coupon: its invoice and the line's credit, in one
    VOIP_CALLS = "voip_calls"  # the rated calls of one CDR import
    OPENING = "opening"  # an opening balance (a VoIP line's opening credit)
    CREDIT_TOPUP = "credit_topup"  # a received top-up payment's base booked to the credit
    CREDIT_PAYMENT = "credit_payment"  # a payment request paid from the credit
    CREDIT_REFUND = "credit_refund"  # unused credit to be returned (closing)
    CREDIT_RETURN = "credit_return"  # a prepaid service's unused days back to the credit


class LedgerAccount(Base):
    """One account. ``key`` names it: ``receivable:<customer id>``,
    ``voip_line_credit:<service id>``, or the kind alone for the accounts that exist once."""

    __tablename__ = "ledger_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class LedgerTransaction(Base):
    """The header of one money movement: what it was, when, who did it, what it refers to.

    Written after its legs (the database checks them when the header arrives)."""

    __tablename__ = "ledger_transaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    booked_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    # whose and which line (no foreign keys: the legs' accounts carry those, checked there;
    # a bank statement's 200,000 postings would pay two more checks each)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    service_id: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"), index=True)
    bank_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_transaction.id"), index=True
    )
    # no foreign key: unpairing a payment deletes its allocations, the postings stay
    allocation_id: Mapped[int | None] = mapped_column(Integer)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transaction.id"))
    reference: Mapped[str | None] = mapped_column(String(64))  # e.g. cdr:<import batch>
    created_at: Mapped[datetime] = mapped_column(default=now)


class LedgerLeg(Base):
    """One signed amount on one account (debit +, credit -). Never updated or deleted."""

    __tablename__ = "ledger_leg"

    id: Mapped[int] = mapped_column(primary_key=True)
    # deferred: the legs are written first, the header last
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transaction.id", deferrable=True, initially="DEFERRED"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_account.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money(precision=14, scale=2))


class LedgerCheck(Base):
    """PostgreSQL's queue of deferred checks: each INSERT statement on ledger_transaction
    adds the range of the ids it wrote, and a DEFERRABLE INITIALLY DEFERRED constraint
    trigger checks at commit that every transaction in the range has two or more legs summing
    to zero, then removes the row (migration 0008). Empty outside a writing transaction."""

    __tablename__ = "ledger_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    lo: Mapped[int] = mapped_column(Integer)
    hi: Mapped[int] = mapped_column(Integer)


# The view is no table of the schema's metadata (migrations create it; tests truncate tables).
_views = MetaData()

ledger_entry_view = Table(
    "ledger_entry",
    _views,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer),
    Column("booked_on", Date),
    Column("kind", String(16)),
    Column("amount", Money()),
    Column("invoice_id", Integer),
    Column("bank_transaction_id", Integer),
    Column("reverses_id", Integer),
    Column("description", Text),
    Column("created_at", UTCDateTime()),
)


class LedgerEntry(Base):
    """Read-only: the customer's side of each ledger transaction that changes their balance
    (invoice, credit note, payment, reversal). Balance = sum(amount); negative means debt.

    A view over the legs on the customer's receivable and prepaid-credit accounts; the
    database refuses UPDATE and DELETE. A correction is a reversing posting."""

    __tablename__ = "ledger_entry"
    __table__ = ledger_entry_view


__all__ = [
    "CREDIT_ACCOUNTS",
    "CUSTOMER_ACCOUNTS",
    "LINE_ACCOUNTS",
    "AccountKind",
    "LedgerAccount",
    "LedgerCheck",
    "LedgerEntry",
    "LedgerLeg",
    "LedgerTransaction",
    "TransactionKind",
    "ledger_entry_view",
]

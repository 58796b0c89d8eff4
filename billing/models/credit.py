"""Prepaid credit accounts (docs/credit.md): the account, its top-up requests, the requests
it paid, the "Nestrhávat automaticky" ticks, refunds, monthly statements and the e-mails
waiting to be sent. The money itself is in the ledger: the balance of the account is the
balance of its ledger account ``credit:<customer id>`` (billing.ledger)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class CreditCurrency(StrEnum):
    """``credit_account.currency``: fixed when the account opens, never mixed."""

    CZK = "CZK"
    EUR = "EUR"


class CreditAccount(Base):
    """One customer's prepaid credit account (one per customer)."""

    __tablename__ = "credit_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))  # CreditCurrency
    # the permanent variable symbol for standing orders (docs/credit.md, "The VS")
    variable_symbol: Mapped[str] = mapped_column(String(10), unique=True)
    auto_pay: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(default=now)
    opened_by: Mapped[str] = mapped_column(String(64))
    # the customer's consent to the terms (NULL when an operator opened the account)
    terms_version: Mapped[str | None] = mapped_column(String(32))
    terms_accepted_at: Mapped[datetime | None] = mapped_column()
    close_requested_at: Mapped[datetime | None] = mapped_column()
    refund_bank_account: Mapped[str | None] = mapped_column(String(60))
    closed_at: Mapped[datetime | None] = mapped_column()


class CreditTopUp(Base):
    """A top-up: its payment request (an advance invoice) and the amount without VAT the
    customer asked for; or a payment to the permanent VS (``bank_transaction_id``), for
    which the request was issued from the gross amount received."""

    __tablename__ = "credit_topup"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_account.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    amount_net: Mapped[Decimal] = mapped_column()
    bank_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_transaction.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by: Mapped[str] = mapped_column(String(64))


class CreditReceipt(Base):
    """A tax document for a payment received on a top-up request, booked to the credit
    (its base: the credit grows by it). One per receipt: a receipt is never credited twice."""

    __tablename__ = "credit_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_account.id"), index=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("tax_receipt.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column()  # the receipt's base: what the credit grew by
    booked_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=now)


class CreditPayment(Base):
    """A payment request (an invoice) paid from credit: ``amount`` settled on the invoice
    (its allocation), ``credit_amount`` taken from the credit (without VAT). At most one
    per invoice: no request is paid twice."""

    __tablename__ = "credit_payment"
    __table_args__ = (CheckConstraint("amount > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_account.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column()
    credit_amount: Mapped[Decimal] = mapped_column()
    paid_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)


class CreditHold(Base):
    """"Nestrhávat automaticky": the customer's tick on one payment request (the latest row
    per invoice wins; rows are never changed)."""

    __tablename__ = "credit_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    hold: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)


class RefundStatus(StrEnum):
    """``credit_refund.status``."""

    PENDING = "pending"  # the operator is to send the money
    SENT = "sent"  # the operator sent it


class CreditRefund(Base):
    """Unused credit returned to the customer's bank account when the account closes: the
    operator's to-do (sent by hand, marked sent)."""

    __tablename__ = "credit_refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_account.id"), index=True)
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    bank_account: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(8), default=RefundStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column()
    sent_by: Mapped[str | None] = mapped_column(String(64))


class CreditStatement(Base):
    """The monthly statement (vyúčtování) of one account: its figures as sent; the PDF is
    rendered from the ledger's movements of that month."""

    __tablename__ = "credit_statement"
    __table_args__ = (UniqueConstraint("account_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("credit_account.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    opening: Mapped[Decimal] = mapped_column()
    closing: Mapped[Decimal] = mapped_column()
    movements: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # e-mailed to the customer with its PDF (billing.credit.mail.send_pending); NULL: not yet
    mailed_at: Mapped[datetime | None] = mapped_column(index=True)


class CreditMail(Base):
    """An e-mail waiting to be sent after its transaction committed (the credit's outbox):
    ``template`` under templates/email/, ``context`` JSON."""

    __tablename__ = "credit_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(Text, default="{}")
    attachment: Mapped[str | None] = mapped_column(String(64))  # e.g. statement:<id>
    # what the mail is about, e.g. the request of a short-credit notice: sent once per ref
    ref: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    failed: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "CreditAccount",
    "CreditCurrency",
    "CreditHold",
    "CreditMail",
    "CreditPayment",
    "CreditReceipt",
    "CreditRefund",
    "CreditStatement",
    "CreditTopUp",
    "RefundStatus",
]

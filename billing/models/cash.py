"""Cash taken at the till: the receipt (příjmový pokladní doklad) of each cash payment.

A cash payment is a customer's payment like a bank one: it is carried into settlement by a
``bank_transaction`` row on the till's pseudo-account :data:`CASH_ACCOUNT` (status
``matched``, the receipt's number as its id), so that the same settlement that pairs bank
payments (``billing.bank.pairing.settle``, both backends) applies it to the oldest open
invoices; its ledger posting debits the till (``AccountKind.CASH``), not the bank. The
receipt row is what was printed and handed over, and is never changed (migration 0015).
A receipt recorded by mistake is cancelled by a :class:`CashReceiptCancellation` (storno),
a document of its own that names it (migration 0022); the receipt itself stays as printed.
See billing/cash/payments.py, billing/cash/cancellation.py and docs/money-acts.md.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base

# the bank_transaction.source_account of cash payments (no bank account is named so)
CASH_ACCOUNT = "cash"


class CashReceipt(Base):
    """Příjmový pokladní doklad: cash received from a customer, by an operator."""

    __tablename__ = "cash_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # PPD + year + 6 digits
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # the movement that carries the money into settlement (source_account = CASH_ACCOUNT)
    bank_transaction_id: Mapped[int] = mapped_column(
        ForeignKey("bank_transaction.id"), unique=True
    )
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="CZK")
    received_on: Mapped[date] = mapped_column(Date)
    received_by: Mapped[str] = mapped_column(String(64))  # the operator's actor string
    # what it paid when it was taken, as printed ("Faktura 2026000012: 605,00 Kč; ...")
    purpose: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # what was printed: both parties
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_address: Mapped[str] = mapped_column(String(300))
    supplier_ico: Mapped[str | None] = mapped_column(String(8))
    supplier_dic: Mapped[str | None] = mapped_column(String(14))
    customer_number: Mapped[str] = mapped_column(String(10))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_address: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=now)


class CashReceiptCancellation(Base):
    """Storno příjmového pokladního dokladu: the document that cancels a cash receipt
    recorded by mistake (its own series ``SPD`` + year + 6 digits), with the reason and the
    operator. One per receipt (UNIQUE); append-only like the receipt (migration 0022)."""

    __tablename__ = "cash_receipt_cancellation"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # SPD + year + 6 digits
    receipt_id: Mapped[int] = mapped_column(ForeignKey("cash_receipt.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    amount: Mapped[Decimal] = mapped_column()  # the receipt's amount (printed negated)
    currency: Mapped[str] = mapped_column(String(3), default="CZK")
    cancelled_on: Mapped[date] = mapped_column(Date)
    cancelled_by: Mapped[str] = mapped_column(String(64))  # the operator's actor string
    reason: Mapped[str] = mapped_column(Text)
    # what the receipt had paid and is owed again, as printed ("faktura 2026000012: 605,00 Kč")
    reopened: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


__all__ = ["CASH_ACCOUNT", "CashReceipt", "CashReceiptCancellation"]

"""Tables of the credit services (issue 15 items 4, 5, 8; migration 0019): the advances a
final invoice deducted, renewals of services with an expiry, the customers' renewal and
notice settings, and the queue of credit notices.

The columns a service gains (``expires_on`` and its renewal settings) are on
:class:`billing.models.customers.Service`, in their own commented block.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class AdvanceDeduction(Base):
    """One tax document for a received advance payment (``tax_receipt``) deducted on a final
    invoice (vyúčtování záloh). A receipt is deducted once (UNIQUE); never changed."""

    __tablename__ = "advance_deduction"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("tax_receipt.id"), unique=True)
    advance_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class RenewalSource(StrEnum):
    """``service_renewal.paid_from``: how a renewal was paid."""

    CREDIT = "credit"  # from the customer's credit (automatic or by hand)
    TRANSFER = "transfer"  # its invoice was paid by a bank transfer
    OPERATOR = "operator"  # an operator renewed it (the invoice is left to be paid)


class ServiceRenewal(Base):
    """One renewal: the service's expiry moved from ``previous_expiry`` to ``new_expiry``.
    Append-only; one renewal per service and previous expiry (UNIQUE), so a period is never
    renewed twice and every renewal starts where the last one ended."""

    __tablename__ = "service_renewal"
    __table_args__ = (UniqueConstraint("service_id", "previous_expiry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    previous_expiry: Mapped[date] = mapped_column(Date)
    new_expiry: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column()
    paid_from: Mapped[str] = mapped_column(String(10))  # RenewalSource
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=now)


class RenewalOrder(Base):
    """A renewal to be paid by a bank transfer: its invoice is issued now, the renewal is
    made when the invoice is paid (``renewal_id`` then names it)."""

    __tablename__ = "renewal_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    previous_expiry: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    renewal_id: Mapped[int | None] = mapped_column(ForeignKey("service_renewal.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class RenewalTariff(Base):
    """Per tariff (a service's ``name``): the surcharge, in percent, for billing a yearly
    product monthly."""

    __tablename__ = "renewal_tariff"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    monthly_surcharge_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))


class CreditServiceSettings(Base):
    """A customer's choices: which kinds of services renew themselves from credit, the
    low-credit notice (on/off, threshold) and whether payment requests are e-mailed.
    No row = the defaults (nothing renews by kind, low-credit notices off, e-mails on)."""

    __tablename__ = "credit_service_settings"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    auto_renew_kinds: Mapped[str] = mapped_column(String(100), default="")  # "internet,insurance"
    low_credit_notices: Mapped[bool] = mapped_column(Boolean, default=False)
    low_credit_threshold: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    payment_request_emails: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=now)


class NoticeKind(StrEnum):
    """``credit_notice.kind``."""

    LOW_CREDIT = "low_credit"
    EXPIRY_SOON = "expiry_soon"  # N days before (CREDIT_EXPIRY_NOTICE_DAYS)
    EXPIRY_TODAY = "expiry_today"
    RENEWAL_SHORT = "renewal_short"  # an automatic renewal found too little credit
    RENEWED = "renewed"
    EXPIRED = "expired"


class NoticeStatus(StrEnum):
    """``credit_notice.status``."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class CreditNotice(Base):
    """One e-mail to a customer about their credit or a service's expiry. ``key`` is unique:
    the same notice (``low_credit:<customer>:<day>``, ``expiry_soon:<service>:<expiry>``) is
    queued once. Sent by :func:`billing.credit.notices.send_pending`."""

    __tablename__ = "credit_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    kind: Mapped[str] = mapped_column(String(20))  # NoticeKind
    key: Mapped[str] = mapped_column(String(80), unique=True)
    context: Mapped[str] = mapped_column(Text, default="{}")  # JSON for the template
    status: Mapped[str] = mapped_column(String(10), default=NoticeStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column()

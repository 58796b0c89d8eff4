"""VoIP tables: price lists (tariffs) with per-prefix rates, the line row of a VoIP
service, its top-ups and its rated calls.

A VoIP *line* is a ``Service`` of kind ``voip`` (phone number, VoIP password hash and the
optional top-up cap live on ``service``); :class:`VoipLine` is its row for the low-credit
warning and the lock that top-ups take. Its credit is no column: it is the balance of the
line's ledger account (docs/ledger.md), posted together with a :class:`TopUp` (+) or the
calls of a CDR import (-) in the same transaction, so
``credit == opening_credit + sum(top-ups) - sum(call costs)``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from billing.ledger.balances import line_credit
from core.clock import now
from core.db import Base, Price4


class Tariff(Base):
    """A price list, valid from a date until the next one's ``valid_from``."""

    __tablename__ = "voip_tariff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    imported_at: Mapped[datetime] = mapped_column(default=now)
    source_file: Mapped[str | None] = mapped_column(String(300))

    rates: Mapped[list[TariffRate]] = relationship(
        back_populates="tariff", cascade="all, delete-orphan", order_by="TariffRate.prefix"
    )


class TariffRate(Base):
    """The price of calls to numbers starting with ``prefix`` (E.164 digits, no '+')."""

    __tablename__ = "voip_tariff_rate"
    __table_args__ = (UniqueConstraint("tariff_id", "prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("voip_tariff.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(100))
    # the destination's English name (optional price-list column; English pages show it)
    destination_en: Mapped[str | None] = mapped_column(String(100))
    # Net price (without VAT) per minute and per connected call, in CZK.
    price_per_minute: Mapped[Decimal] = mapped_column(Price4())
    connect_fee: Mapped[Decimal] = mapped_column(Price4(), default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("21"))
    # Billing increments in seconds: the first charged block, then each further block
    # (60/60 = per started minute, 60/1 = first minute then per second, 1/1 = per second).
    initial_increment: Mapped[int] = mapped_column(Integer, default=60)
    increment: Mapped[int] = mapped_column(Integer, default=60)

    tariff: Mapped[Tariff] = relationship(back_populates="rates")


class VoipLine(Base):
    """One VoIP line's settings and lock row; its credit is read from the ledger."""

    __tablename__ = "voip_line"

    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    # what the line started with (posted to the ledger as an opening balance)
    opening_credit: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # The customer's low-credit warning: one e-mail each time the credit falls below it.
    low_credit_threshold: Mapped[Decimal | None] = mapped_column()
    low_credit_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    @property
    def credit(self) -> Decimal:
        """The line's prepaid credit now: the balance of its ledger account (0 for a row
        that is not in a session)."""
        session = object_session(self) or self.__dict__.get("_read_with")
        if session is None or self.service_id is None:
            return Decimal("0.00")
        return line_credit(session, self.service_id)


class TopUp(Base):
    """A coupon bought in the VoIP zone: credit added at once, invoiced to be paid."""

    __tablename__ = "voip_topup"
    __table_args__ = (Index("ix_voip_topup_service_created", "service_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    amount: Mapped[Decimal] = mapped_column()  # VAT included (the coupon's face value)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    # The one-time key of the confirmation form: a re-submitted form finds its top-up.
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    actor: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))


class CallRecord(Base):
    """One answered call from Asterisk's CDR, rated with the tariff valid at its start."""

    __tablename__ = "voip_call"
    __table_args__ = (Index("ix_voip_call_service_start", "service_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cdr_uniqueid: Mapped[str] = mapped_column(String(150), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    started_at: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(80))
    destination_number: Mapped[str] = mapped_column(String(80))
    destination: Mapped[str | None] = mapped_column(String(100))  # the tariff's name for it
    prefix: Mapped[str | None] = mapped_column(String(20))
    billsec: Mapped[int] = mapped_column(Integer)  # answered seconds
    charged_seconds: Mapped[int] = mapped_column(Integer)  # after increments
    cost: Mapped[Decimal] = mapped_column()  # VAT included, deducted from the credit
    tariff_id: Mapped[int | None] = mapped_column(ForeignKey("voip_tariff.id"))
    imported_at: Mapped[datetime] = mapped_column(default=now)
    import_batch: Mapped[int | None] = mapped_column(BigInteger)

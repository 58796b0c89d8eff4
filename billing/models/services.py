"""A service's tariff history: its name and price from a day on (``service_tariff``).

The monthly run (:mod:`billing.invoicing.recurring`) bills each day of a month at the
tariff in force that day; ``Service.name`` and ``Service.price`` hold the newest tariff
(what the customer has agreed to now). Append-only (migration 0014): a change is a new
row, a correction of a planned change is a newer row for the same day.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class ServiceTariff(Base):
    """One step of a service's tariff: from ``effective_from`` on, ``name`` at ``price``."""

    __tablename__ = "service_tariff"
    __table_args__ = (Index("ix_service_tariff_service_id_effective_from", "service_id",
                            "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column()  # per billing period, VAT included
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)

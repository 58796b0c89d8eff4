"""Tables of the credit gaps (issue 15; migration 0021): the unused part of a prepaid
service returned to the credit when the service ends early, and the ČNB exchange rates that
a tax document in a foreign currency states its VAT in CZK by.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base, Price4


class CreditReturn(Base):
    """The unused days of a prepaid service ended before its expiry, returned to the
    customer's credit through a credit note (opravný daňový doklad) of the renewal invoice
    that paid them (billing/credit/early_end.py). The credit note's credit went to the credit
    account, so it never settles other invoices (billing/bank/pairing skips it). Append-only;
    one per credit note."""

    __tablename__ = "credit_return"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    renewal_id: Mapped[int] = mapped_column(ForeignKey("service_renewal.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)  # corrected
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    last_day: Mapped[date] = mapped_column(Date)  # the service's last day
    days: Mapped[int] = mapped_column(Integer)  # unused days returned
    period_days: Mapped[int] = mapped_column(Integer)  # days the renewal paid for
    amount: Mapped[Decimal] = mapped_column()  # gross, as the credit note credits it
    credit_amount: Mapped[Decimal] = mapped_column()  # without VAT: what the credit grew by
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=now)


class ExchangeRate(Base):
    """The ČNB rate of one currency on one day: ``amount`` units cost ``rate`` CZK (the
    daily file's "množství" and "kurz"). Imported by ``ispzone rates import``; a stored day
    is never changed (a document printed with it must print the same later)."""

    __tablename__ = "exchange_rate"
    __table_args__ = (UniqueConstraint("day", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(Integer)
    rate: Mapped[Decimal] = mapped_column(Price4())
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)

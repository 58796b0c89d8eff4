"""An issued invoice's e-mail (migration 0020): the monthly run records each one right after
the SMTP server accepted it (docs/monthly-run.md). A row of its own, not columns of
``invoice``: an issued invoice is append-only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class MailState(StrEnum):
    SENT = "sent"  # the SMTP server accepted it (250)
    FAILED = "failed"  # refused or not reachable; ``attempts`` so far, ``last_error``


class InvoiceMail(Base):
    __tablename__ = "invoice_mail"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), primary_key=True)
    # deterministic (<invoice-NUMBER@domain>): a message sent twice is recognisably the same
    message_id: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(10), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=now)

"""Operators' notes on a customer: append-only (migration 0013 guards the table), each with
its author and time. A correction is a new note."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class CustomerNote(Base):
    __tablename__ = "customer_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))  # operator:<login>
    created_at: Mapped[datetime] = mapped_column(default=now)
    text: Mapped[str] = mapped_column(Text)

"""The audit trail: the AuditEvent table and :func:`record`. Domain functions call
:func:`record`; the caller commits."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import now
from core.db import Base


class AuditEvent(Base):
    """Who changed what, when, from where. Written for every change to money or access."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # customer:1001 | operator:cli | system
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[str | None] = mapped_column(Text)


def record(
    session: Session,
    action: str,
    *,
    actor: str,
    customer_id: int | None = None,
    field: str | None = None,
    old_value=None,
    new_value=None,
    ip: str | None = None,
    details: dict | None = None,
    id: int | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one event (the trail is append-only: the database refuses UPDATE and DELETE, so
    an event is written once, complete). ``id`` from :func:`reserve_id` and ``at`` when
    work done before it refers to the event."""
    event = AuditEvent(
        id=id,
        at=at or now(),
        action=action,
        actor=actor,
        customer_id=customer_id,
        field=field,
        old_value=None if old_value is None else str(old_value),
        new_value=None if new_value is None else str(new_value),
        ip=ip,
        details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
    )
    session.add(event)
    return event


def reserve_id(session: Session) -> int:
    """The id of an event that this transaction records later (``record(..., id=...)``),
    for rows written before it that refer to it (a CDR import's calls).

    PostgreSQL: the table's sequence. SQLite: one past the highest id; there is one writer
    at a time, and a transaction that read before another one wrote cannot write itself."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT nextval(pg_get_serial_sequence('audit_event', 'id'))"))
    return session.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM audit_event"))

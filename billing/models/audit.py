"""Authentication state: server-side sessions and password-reset tokens (the audit trail
itself is core.audit)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class SessionKind(StrEnum):
    """``user_session.kind``: which login the session belongs to."""

    ZONE = "zone"  # the client zone (customer number + password)
    VOIP = "voip"  # the VoIP zone (phone number + VoIP password)


class UserSession(Base):
    """A logged-in browser. The cookie carries a random token; only its hash is stored.

    Deleting the row ends the session, whatever the browser still holds.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default=SessionKind.ZONE.value)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # "View the zone as this customer": the operator's actor (operator:<login>) when an
    # operator opened this session from the console; the zone is then read-only
    # (zone/view_as.py). NULL for the customer's own sessions.
    viewed_by: Mapped[str | None] = mapped_column(String(64))


class PasswordResetToken(Base):
    __tablename__ = "password_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()

"""The ISP's staff: operators of the console (``/console/``), their second factor and their
server-side sessions (migration 0012). The domain functions are in
:mod:`billing.operators`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now
from core.db import Base


class OperatorRole(StrEnum):
    """``operator.role``: what an operator may do in the console (docs/console.md)."""

    ADMIN = "admin"  # everything, incl. operators and settings
    BILLING = "billing"  # invoices, credit notes, payments, statements, reports
    SUPPORT = "support"  # customers, services, credentials, cases, VoIP
    READONLY = "readonly"  # reads only


class Operator(Base):
    """A member of the ISP's staff who logs in to the console. Never deleted (the audit
    trail names them); ``disabled_at`` ends their access."""

    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=now)
    disabled_at: Mapped[datetime | None] = mapped_column()
    # TOTP (RFC 6238): the base32 secret, whether enrolment was confirmed, and the last
    # time step a code was accepted for (a code is never accepted twice)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column()

    recovery_codes: Mapped[list[OperatorRecoveryCode]] = relationship(
        back_populates="operator", cascade="all, delete-orphan")

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def actor(self) -> str:
        return f"operator:{self.login}"


class OperatorRecoveryCode(Base):
    """A single-use recovery code (for a lost authenticator); only its hash is kept."""

    __tablename__ = "operator_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    used_at: Mapped[datetime | None] = mapped_column()

    operator: Mapped[Operator] = relationship(back_populates="recovery_codes")


class OperatorSession(Base):
    """A logged-in operator's browser (the console's cookie carries a random token; only its
    hash is here). Separate from customers' ``user_session``: neither can stand for the
    other. ``second_factor`` is False between the password and the TOTP code."""

    __tablename__ = "operator_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    second_factor: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))

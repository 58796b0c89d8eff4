"""Enforcement tables: one case per customer (the state machine of
docs/facts/enforcement-states.md), the router-action outbox, the routers themselves, the mail
outbox and RADIUS accounting sessions; their status values as enums beside them.

The *desired* state lives here; routers are told through :class:`RouterAction` rows written
in the same transaction as the state change, and sent by the worker with retries.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class CaseState(StrEnum):
    """``enforcement_case.state`` (docs/facts/enforcement-states.md)."""

    OK = "ok"
    REMINDED = "reminded"
    WARNED = "warned"
    ACKNOWLEDGED = "acknowledged"
    DISCONNECTED = "disconnected"


class RouterDriver(StrEnum):
    """``router.driver``: how a router is told (enforcement/drivers/)."""

    ROUTEROS = "routeros"
    RADIUS = "radius"
    RECORDING = "recording"


class ActionKind(StrEnum):
    """``router_action.kind``."""

    LIST_ADD = "list_add"
    LIST_REMOVE = "list_remove"
    KICK = "kick"  # drop the PPP / RADIUS session


class ActionStatus(StrEnum):
    """``router_action.status``."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up; an operator looks at it


class MailKind(StrEnum):
    """``enforcement_mail.kind``: the notices of the state machine."""

    REMINDER1 = "reminder1"
    REMINDER2 = "reminder2"
    WARNING = "warning"
    DISCONNECTED = "disconnected"
    PAYMENT_RECEIVED = "payment_received"


class MailStatus(StrEnum):
    """``enforcement_mail.status``."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the case went back to ok before the notice was sent


CASE_STATES = tuple(state.value for state in CaseState)
ACTION_STATUSES = tuple(status.value for status in ActionStatus)
DRIVERS = tuple(driver.value for driver in RouterDriver)


class EnforcementCase(Base):
    """Where one customer stands: ok -> reminded -> warned -> acknowledged -> disconnected."""

    __tablename__ = "enforcement_case"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=CaseState.OK.value, index=True)
    state_since: Mapped[datetime] = mapped_column(default=now)
    # The oldest still-unpaid overdue invoice's due date when the case opened.
    overdue_since: Mapped[date | None] = mapped_column(Date)
    reminder1_sent_at: Mapped[datetime | None] = mapped_column()
    reminder2_sent_at: Mapped[datetime | None] = mapped_column()
    warned_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_ip: Mapped[str | None] = mapped_column(String(45))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    disconnect_due: Mapped[date | None] = mapped_column(Date)  # Prague calendar day
    disconnected_at: Mapped[datetime | None] = mapped_column()
    reconnected_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class Router(Base):
    """A router (NAS) the customers' services live on (``Service.router_name``)."""

    __tablename__ = "router"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    driver: Mapped[str] = mapped_column(String(16))  # RouterDriver
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)  # API 8728 / API-SSL 8729 / CoA 3799
    use_tls: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str | None] = mapped_column(String(64))
    # RouterOS API password or RADIUS shared secret. ``env:NAME`` reads the environment.
    secret: Mapped[str | None] = mapped_column(String(255))
    # TLS: a CA file to verify the router's certificate (empty = system store).
    ca_file: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class RouterAction(Base):
    """The outbox: one thing a router must be told, retried until done."""

    __tablename__ = "router_action"
    __table_args__ = (Index("ix_router_action_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    router_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # ActionKind
    list_name: Mapped[str | None] = mapped_column(String(64))  # warned | blocked
    address: Mapped[str | None] = mapped_column(String(43))
    username: Mapped[str | None] = mapped_column(String(64))  # PPPoE / RADIUS User-Name
    reason: Mapped[str | None] = mapped_column(String(64))  # warn | ack | disconnect | reconnect | reconcile
    status: Mapped[str] = mapped_column(String(8), default=ActionStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the router answered when it was done ("Disconnect-ACK from ...", "already present")
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    done_at: Mapped[datetime | None] = mapped_column()
    # Set while a worker is sending it, so two workers never send one action at once.
    claimed_until: Mapped[datetime | None] = mapped_column()


class RadiusSession(Base):
    """A session learned from RADIUS accounting (Start / Interim-Update / Stop)."""

    __tablename__ = "radius_session"
    __table_args__ = (UniqueConstraint("nas_ip", "acct_session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nas_ip: Mapped[str] = mapped_column(String(45))
    nas_identifier: Mapped[str | None] = mapped_column(String(64))
    acct_session_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), index=True)
    framed_ip: Mapped[str | None] = mapped_column(String(45), index=True)
    started_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    stopped_at: Mapped[datetime | None] = mapped_column()
    # Totals so far (octets + 2**32 * gigawords), as the NAS reports them, in the
    # customer's direction: down = NAS output, up = NAS input.
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    terminate_cause: Mapped[str | None] = mapped_column(String(32))


MAIL_STATUSES = tuple(status.value for status in MailStatus)


class EnforcementMail(Base):
    """The mail outbox: a notice (reminder, warning, ...) written in the sweep's transaction
    and sent by the worker, retried while SMTP is down. Rendered when sent, so the list of
    open invoices is current; a reminder whose case went back to ``ok`` meanwhile is
    cancelled instead of sent."""

    __tablename__ = "enforcement_mail"
    __table_args__ = (Index("ix_enforcement_mail_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # MailKind
    to_address: Mapped[str | None] = mapped_column(String(254))
    lang: Mapped[str] = mapped_column(String(2), default="cs")
    context: Mapped[str | None] = mapped_column(Text)  # JSON, e.g. the disconnection day
    status: Mapped[str] = mapped_column(String(10), default=MailStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None] = mapped_column()

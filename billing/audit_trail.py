"""The audit trail's read side (the console's Audit trail page): events filtered by actor,
action, customer and period, newest first, a page at a time. Every row names its actor.

Filters: ``actor`` with a colon is matched exactly (``operator:admin``); without one it is
a login or number of any kind of actor (``admin`` finds ``operator:admin``, ``1001`` finds
``customer:1001``). ``action`` is an action (``operator.login``) or a family ending in a
dot (``operator.``). The period is Prague calendar days, both ends included."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from billing.models import Customer
from core.audit import AuditEvent
from core.clock import PRAGUE


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    customer: str = ""  # a customer number
    since: date | None = None
    until: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.actor or self.action or self.customer or self.since or self.until)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    customer_number: str | None
    customer_name: str | None
    field: str | None
    old_value: str | None
    new_value: str | None
    ip: str | None
    details: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = 50

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), PRAGUE)


def _conditions(flt: AuditFilter) -> list:
    where = []
    actor = flt.actor.strip()
    if actor:
        where.append(AuditEvent.actor == actor if ":" in actor
                     else or_(AuditEvent.actor == actor, AuditEvent.actor.like(f"%:{_escape(actor)}",
                                                                                escape="\\")))
    action = flt.action.strip()
    if action:
        where.append(AuditEvent.action.like(f"{_escape(action)}%", escape="\\")
                     if action.endswith(".") else AuditEvent.action == action)
    if flt.customer.strip():
        where.append(AuditEvent.customer_id.in_(
            select(Customer.id).where(Customer.customer_number == flt.customer.strip())))
    if flt.since:
        where.append(AuditEvent.at >= _start_of(flt.since))
    if flt.until:
        where.append(AuditEvent.at < _start_of(flt.until + timedelta(days=1)))
    return where


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def audit_page(session: Session, flt: AuditFilter, *, page: int = 1, per_page: int = 50,
               oldest_first: bool = False) -> AuditPage:
    where = _conditions(flt)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    order = (AuditEvent.at.asc(), AuditEvent.id.asc()) if oldest_first else \
        (AuditEvent.at.desc(), AuditEvent.id.desc())
    rows = session.execute(
        select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
               Customer.customer_number, Customer.name, AuditEvent.field, AuditEvent.old_value,
               AuditEvent.new_value, AuditEvent.ip, AuditEvent.details)
        .outerjoin(Customer, Customer.id == AuditEvent.customer_id)
        .where(*where).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return AuditPage([AuditRow(*row) for row in rows], total, page, per_page)


def action_names(session: Session) -> list[str]:
    """Every action the trail holds (for the filter's list)."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))

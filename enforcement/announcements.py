"""Operators' announcements to subscribers: an outage or a notice, in Czech and English, for
a time window, to all customers or to those whose internet service lives on one router
(``Service.router_name``, enforcement's :class:`~enforcement.models.Router`).

Posted with ``ispzone announcements add`` (enforcement/cli.py) or from the operator console;
shown in the client zone, the VoIP zone and on ``/warning`` where they apply
(docs/announcements.md). Flask-free: the doors commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, bindparam, exists, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from billing.models import Service
from core import audit
from core.clock import now
from core.db import Base
from core.errors import Conflict, Invalid
from core.i18n import _l
from core.i18n import number as shown_number
from enforcement.models import Router

MAX_TEXT = 1000


class AnnouncementKind(StrEnum):
    """``announcement.kind``."""

    OUTAGE = "outage"
    NOTICE = "notice"


class Announcement(Base):
    """One announcement. ``router_name`` None: every customer; else the customers with a
    current service on that router. Ending it sets ``ends_at`` (the row is kept)."""

    __tablename__ = "announcement"
    __table_args__ = (Index("ix_announcement_window", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # AnnouncementKind
    text_cs: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    router_name: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by: Mapped[str] = mapped_column(String(64))
    # who ended it early (an operator), when it was not left to run out
    ended_by: Mapped[str | None] = mapped_column(String(64))

    def text(self, lang: str) -> str:
        """The text in ``lang`` ("cs" or "en"); Czech when there is no English text."""
        return (self.text_en if lang == "en" and self.text_en else self.text_cs) or ""

    def is_current(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


class AnnouncementError(Invalid):
    """The announcement cannot be posted as given (nothing is written)."""


class AnnouncementNotFound(Conflict):
    """No such announcement, or it has ended already."""


@dataclass(frozen=True)
class Shown:
    """What a page shows of one announcement."""

    id: int
    kind: str
    text: str
    starts_at: datetime
    ends_at: datetime | None
    router_name: str | None


def add(
    session: Session,
    *,
    kind: str,
    text_cs: str,
    text_en: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    router_name: str | None = None,
    actor: str,
) -> Announcement:
    """Post an announcement (audited ``announcement.posted``). Refuses an unknown kind, an
    empty or overlong text, a window that ends before it starts or has ended already, and a
    router that is neither known (table ``router``) nor named by any service."""
    try:
        kind = AnnouncementKind(kind)
    except ValueError:
        raise AnnouncementError(_l("unknown kind %(kind)s: use %(kinds)s", kind=repr(kind),
                                   kinds=" or ".join(k.value for k in AnnouncementKind))
                                ) from None
    text_cs = (text_cs or "").strip()
    text_en = (text_en or "").strip() or None
    if not text_cs:
        raise AnnouncementError(_l("the Czech text is required"))
    if len(text_cs) > MAX_TEXT:
        raise AnnouncementError(_l("the Czech text is longer than %(max)s characters",
                                   max=shown_number(MAX_TEXT)))
    if len(text_en or "") > MAX_TEXT:
        raise AnnouncementError(_l("the English text is longer than %(max)s characters",
                                   max=shown_number(MAX_TEXT)))
    moment = now()
    starts_at = starts_at or moment
    if ends_at is not None and ends_at <= moment:
        raise AnnouncementError(_l("the end is in the past"))
    if ends_at is not None and ends_at <= starts_at:
        raise AnnouncementError(_l("the end must be later than the start"))
    router_name = (router_name or "").strip() or None
    if router_name is not None and not _router_known(session, router_name):
        raise AnnouncementError(_l("unknown router %(name)s", name=repr(router_name)))
    row = Announcement(
        kind=kind.value, text_cs=text_cs, text_en=text_en, starts_at=starts_at, ends_at=ends_at,
        router_name=router_name, created_at=moment, created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(session, "announcement.posted", actor=actor, new_value=text_cs,
                 details={"id": row.id, "kind": row.kind, "router": router_name,
                          "starts_at": starts_at, "ends_at": ends_at, "text_en": text_en})
    return row


def end(session: Session, announcement_id: int, *, actor: str) -> Announcement:
    """End an announcement now (audited ``announcement.ended``); Conflict when there is no
    such announcement or it has ended already."""
    row = session.get(Announcement, announcement_id)
    moment = now()
    if row is None or (row.ends_at is not None and row.ends_at <= moment):
        raise AnnouncementNotFound(_l("no running announcement #%(id)s", id=announcement_id))
    old = row.ends_at
    row.ends_at = max(moment, row.starts_at)
    row.ended_by = actor
    session.flush()
    audit.record(session, "announcement.ended", actor=actor, old_value=old,
                 new_value=row.ends_at, details={"id": row.id})
    return row


def listing(session: Session, *, include_ended: bool = False, limit: int = 200) -> list[Announcement]:
    """Announcements, newest first; by default those that have not ended."""
    query = select(Announcement).order_by(Announcement.starts_at.desc(), Announcement.id.desc())
    if not include_ended:
        query = query.where(or_(Announcement.ends_at.is_(None), Announcement.ends_at > now()))
    return list(session.scalars(query.limit(limit)))


def routers_of(session: Session, customer_id: int, on: date, default_router: str | None = None) -> set[str]:
    """The routers the customer's current services live on (services without a router name
    are on ``default_router``)."""
    rows = session.execute(
        select(Service.router_name, Service.kind).where(
            Service.customer_id == customer_id,
            Service.valid_from <= on,
            or_(Service.valid_to.is_(None), Service.valid_to >= on),
        )
    ).all()
    names = {name for name, _kind in rows if name}
    if default_router and any(name is None and kind == "internet" for name, kind in rows):
        names.add(default_router)
    return names


def for_customer(
    session: Session, customer_id: int | None, lang: str, *, on: date,
    at: datetime | None = None, default_router: str | None = None,
) -> list[Shown]:
    """The announcements that apply now to this customer (None: somebody not recognised,
    who sees only those for everybody); outages first, then the newest."""
    at = at or now()
    query = select(Announcement).where(
        Announcement.starts_at <= at,
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > at),
    )
    routers = routers_of(session, customer_id, on, default_router) if customer_id else set()
    if routers:
        query = query.where(or_(Announcement.router_name.is_(None),
                                Announcement.router_name.in_(sorted(routers))))
    else:
        query = query.where(Announcement.router_name.is_(None))
    rows = session.scalars(query.order_by(Announcement.starts_at.desc(), Announcement.id.desc()))
    shown = [
        Shown(r.id, r.kind, r.text(lang), r.starts_at, r.ends_at, r.router_name) for r in rows
    ]
    return sorted(shown, key=lambda s: s.kind != AnnouncementKind.OUTAGE)


def live_column():
    """SQL: whether any announcement is current at ``bindparam("now")``, for anybody (a
    column loaded with the login session, web.sessions.add_extra: when there is none, which
    is most of the time, a page needs no query for its announcements)."""
    at = bindparam("now", type_=Announcement.starts_at.type)
    return exists().where(
        Announcement.starts_at <= at,
        or_(Announcement.ends_at.is_(None), Announcement.ends_at > at),
    )


def _router_known(session: Session, name: str) -> bool:
    if session.scalar(select(Router.id).where(Router.name == name)) is not None:
        return True
    return session.scalar(select(Service.id).where(Service.router_name == name).limit(1)) is not None

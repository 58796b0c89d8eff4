"""RADIUS accounting: sessions (Start / Interim-Update / Stop) and the traffic they carry.

A NAS reports running *totals* per session (octets plus 2**32 * gigawords). We keep the
highest totals seen in :class:`RadiusSession` and add only the growth since then to the
customer's :class:`TrafficDay` of the Prague calendar day. So a retransmitted record, a
duplicate, or an Interim-Update that arrives after a later one (UDP reorders) adds nothing.

Concurrency: two copies of one record may be handled at the same time by two app workers.
The totals are moved forward with a compare-and-set UPDATE (``WHERE bytes_down = <what we
read>``), retried on a lost race, so only one of them adds the growth; the day's counter is
an atomic ``INSERT ... ON CONFLICT DO UPDATE SET x = x + growth``.
Domain code: it flushes, the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.models import Service, TrafficDay
from core.clock import now, prague_date
from core.errors import DomainError
from enforcement.models import RadiusSession

GIGAWORD = 2**32
MAX_DELAY = timedelta(days=7)  # an Acct-Delay-Time beyond this is not believed
STATUSES = ("Start", "Interim-Update", "Stop", "Accounting-On", "Accounting-Off")


class AccountingError(DomainError, ValueError):
    """A record that cannot be used (missing session id, unknown status, bad numbers)."""


@dataclass(frozen=True)
class Record:
    """One Accounting-Request, already in our terms (customer's direction)."""

    status: str
    nas_ip: str
    session_id: str | None
    username: str | None
    bytes_down: int  # NAS output = what the customer downloaded
    bytes_up: int  # NAS input = what the customer uploaded
    at: datetime  # when it happened (receipt time minus Acct-Delay-Time)
    session_time: int | None = None
    framed_ip: str | None = None
    nas_identifier: str | None = None
    terminate_cause: str | None = None


@dataclass(frozen=True)
class Result:
    added_down: int = 0
    added_up: int = 0
    closed_sessions: int = 0


def _int(attrs: dict, name: str) -> int:
    raw = attrs.get(name)
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise AccountingError(f"{name} is not a number: {raw!r}") from None
    if value < 0 or value >= GIGAWORD:
        raise AccountingError(f"{name} is out of range: {value}")
    return value


def parse(attrs: dict[str, str], received_at: datetime | None = None) -> Record:
    """Build a :class:`Record` from RADIUS attribute names -> first values."""
    status = attrs.get("Acct-Status-Type")
    if status not in STATUSES:
        raise AccountingError(f"unsupported Acct-Status-Type {status!r}")
    nas_ip = attrs.get("NAS-IP-Address") or attrs.get("NAS-IPv6-Address")
    if not nas_ip:
        raise AccountingError("NAS-IP-Address is missing")
    session_id = attrs.get("Acct-Session-Id") or None
    if status not in ("Accounting-On", "Accounting-Off") and not session_id:
        raise AccountingError("Acct-Session-Id is missing")
    delay = min(timedelta(seconds=_int(attrs, "Acct-Delay-Time")), MAX_DELAY)
    down = _int(attrs, "Acct-Output-Octets") + GIGAWORD * _int(attrs, "Acct-Output-Gigawords")
    up = _int(attrs, "Acct-Input-Octets") + GIGAWORD * _int(attrs, "Acct-Input-Gigawords")
    return Record(
        status=status,
        nas_ip=nas_ip[:45],
        session_id=session_id[:64] if session_id else None,
        username=(attrs.get("User-Name") or "")[:64] or None,
        bytes_down=down,
        bytes_up=up,
        at=(received_at or now()) - delay,
        session_time=_int(attrs, "Acct-Session-Time") if "Acct-Session-Time" in attrs else None,
        framed_ip=(attrs.get("Framed-IP-Address") or None),
        nas_identifier=(attrs.get("NAS-Identifier") or "")[:64] or None,
        terminate_cause=(attrs.get("Acct-Terminate-Cause") or "")[:32] or None,
    )


def record(session: Session, rec: Record) -> Result:
    """Apply one accounting record (see the module docstring)."""
    if rec.status in ("Accounting-On", "Accounting-Off"):
        return Result(closed_sessions=_close_all(session, rec))
    row = _session_row(session, rec)
    for _attempt in range(20):
        down = max(rec.bytes_down, row.bytes_down)
        up = max(rec.bytes_up, row.bytes_up)
        values = {"bytes_down": down, "bytes_up": up, "updated_at": rec.at}
        if rec.framed_ip:
            values["framed_ip"] = rec.framed_ip[:45]
        if rec.status == "Stop" and row.stopped_at is None:
            values["stopped_at"] = rec.at
            values["terminate_cause"] = rec.terminate_cause
        moved = session.execute(
            update(RadiusSession)
            .where(
                RadiusSession.id == row.id,
                RadiusSession.bytes_down == row.bytes_down,
                RadiusSession.bytes_up == row.bytes_up,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            added_down, added_up = down - row.bytes_down, up - row.bytes_up
            if row.service_id and (added_down or added_up):
                _add_traffic(session, row.service_id, prague_date(rec.at), added_down, added_up)
            return Result(added_down, added_up)
        session.expire(row)  # someone else moved the totals first: read them again
        session.refresh(row)
    raise RuntimeError(f"accounting for session {row.id} kept changing under us")


def _session_row(session: Session, rec: Record) -> RadiusSession:
    """The session row, created on the first record we see of it (a Start may be lost)."""
    key = (RadiusSession.nas_ip == rec.nas_ip, RadiusSession.acct_session_id == rec.session_id)
    row = session.scalars(select(RadiusSession).where(*key)).first()
    if row is not None:
        if row.service_id is None and rec.username:  # service added after the session began
            row.service_id = _service_id(session, rec.username)
        return row
    started = rec.at
    if rec.status != "Start" and rec.session_time:
        started = rec.at - timedelta(seconds=rec.session_time)
    insert = _insert_for(session)
    session.execute(
        insert(RadiusSession)
        .values(
            nas_ip=rec.nas_ip,
            nas_identifier=rec.nas_identifier,
            acct_session_id=rec.session_id,
            username=rec.username or "",
            service_id=_service_id(session, rec.username) if rec.username else None,
            framed_ip=rec.framed_ip,
            started_at=started,
            updated_at=rec.at,
            bytes_down=0,
            bytes_up=0,
        )
        .on_conflict_do_nothing(index_elements=["nas_ip", "acct_session_id"])
    )
    return session.scalars(select(RadiusSession).where(*key)).one()


def _service_id(session: Session, username: str) -> int | None:
    return session.scalar(
        select(Service.id).where(Service.pppoe_username == username, Service.kind == "internet")
    )


def _add_traffic(session: Session, service_id: int, day, down: int, up: int) -> None:
    insert = _insert_for(session)
    stmt = insert(TrafficDay).values(service_id=service_id, day=day, bytes_down=down, bytes_up=up)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["service_id", "day"],
            set_={
                "bytes_down": TrafficDay.bytes_down + stmt.excluded.bytes_down,
                "bytes_up": TrafficDay.bytes_up + stmt.excluded.bytes_up,
            },
        )
    )


def _close_all(session: Session, rec: Record) -> int:
    """Accounting-On/Off: the NAS (re)started, so none of its sessions is running any more."""
    return session.execute(
        update(RadiusSession)
        .where(RadiusSession.nas_ip == rec.nas_ip, RadiusSession.stopped_at.is_(None))
        .values(stopped_at=rec.at, updated_at=rec.at, terminate_cause="NAS-Reboot")
        .execution_options(synchronize_session=False)
    ).rowcount


def _insert_for(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert

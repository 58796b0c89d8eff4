"""VoIP lines: finding a line by its login suffix, checking its password, its prepaid
line row (created on demand, locked for top-ups), the customer's low-credit threshold,
the operator's top-up cap, and the read side the overview page shows.

No Flask here. Functions flush; the caller commits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing.ledger import postings
from billing.models import Service
from core import audit
from core.clock import PRAGUE, now
from core.db import money_sum
from core.errors import DomainError
from core.i18n import _l
from core.passwords import hash_password, needs_rehash, verify_password
from voip.models import CallRecord, VoipLine
from voip.tariffs import InvalidNumber, normalize_number

ZERO = Decimal("0.00")


class LineError(DomainError, ValueError):
    pass


# -- finding a line ------------------------------------------------------------------------


def to_e164(raw: str) -> str | None:
    """'+420 601 234 567', '00420601234567', '601234567' -> '+420601234567'; None if not a number."""
    try:
        return "+" + normalize_number(raw)
    except InvalidNumber:
        return None


def active_lines(session: Session, suffix: str, on: date) -> list[Service]:
    """Active VoIP services whose number ends with ``suffix`` (digits only)."""
    if not suffix.isdigit():
        return []
    candidates = session.scalars(
        select(Service)
        .where(Service.kind == "voip", Service.phone_number.like(f"%{suffix}"))
        .order_by(Service.id)
    ).all()
    return [s for s in candidates if s.is_active(on) and s.phone_number.endswith(suffix)]


def line_by_number(session: Session, number: str) -> Service | None:
    e164 = to_e164(number)
    if e164 is None:
        return None
    return session.scalar(select(Service).where(Service.kind == "voip", Service.phone_number == e164))


class LoginOutcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # unknown suffix, wrong full number or wrong password: one answer
    NEEDS_NUMBER = "needs_number"  # several active lines share the suffix


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    service: Service | None = None


def authenticate(
    session: Session, suffix: str, password: str, on: date, full_number: str | None = None
) -> LoginResult:
    """Check a VoIP login. The password is verified against exactly one line, or (when the
    suffix is unknown) against a dummy hash so that the time taken does not tell.

    When several active lines end with ``suffix`` and no full number is given, nothing is
    verified and the caller asks for the full number.
    """
    lines = active_lines(session, suffix, on)
    if full_number:
        e164 = to_e164(full_number)
        lines = [s for s in lines if s.phone_number == e164]
    elif len(lines) > 1:
        return LoginResult(LoginOutcome.NEEDS_NUMBER)
    service = lines[0] if len(lines) == 1 else None
    ok = verify_password(service.voip_password_hash if service else None, password)
    if not ok or service is None:
        return LoginResult(LoginOutcome.FAILED)
    if needs_rehash(service.voip_password_hash):
        service.voip_password_hash = hash_password(password)
    return LoginResult(LoginOutcome.OK, service)


# -- the prepaid line row --------------------------------------------------------------------


def peek(session: Session, service_id: int) -> VoipLine:
    """The line row to read, or an unsaved empty one (pages must not write)."""
    found = session.get(VoipLine, service_id)
    if found is not None:
        return found
    empty = VoipLine(service_id=service_id, opening_credit=ZERO, low_credit_notified=False)
    empty.__dict__["_read_with"] = session  # its credit is still the ledger's
    return empty


def line_row(session: Session, service_id: int) -> VoipLine:
    """The service's line row, created (empty) when missing; safe against a concurrent
    creator (INSERT ... ON CONFLICT DO NOTHING)."""
    found = session.get(VoipLine, service_id)
    if found is not None:
        return found
    if session.get(Service, service_id) is None:
        raise LineError(_l("no service %(id)s", id=service_id))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise LineError(_l("unsupported database %(dialect)s", dialect=dialect))
    moment = now()
    session.execute(
        insert(VoipLine)
        .values(
            service_id=service_id,
            opening_credit=ZERO,
            low_credit_notified=False,
            updated_at=moment,
        )
        .on_conflict_do_nothing(index_elements=["service_id"])
    )
    return session.get(VoipLine, service_id, populate_existing=True)


def ensure_lines(session: Session, service_ids) -> None:
    """The empty line rows of these services, at once (the CDR import's writers; rows
    that exist are left alone: INSERT ... ON CONFLICT DO NOTHING)."""
    if not service_ids:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    moment = now()
    session.execute(
        insert(VoipLine.__table__).on_conflict_do_nothing(index_elements=["service_id"]),
        [
            {"service_id": sid, "opening_credit": Decimal("0.00"),
             "low_credit_notified": False, "updated_at": moment}
            for sid in sorted(service_ids)
        ],
    )


def lock_line(session: Session, service_id: int) -> VoipLine:
    """The line row locked until the end of the transaction, with fresh values.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks: a write first (before
    any read of ours) takes the database's write lock, so that no other writer slips in
    between our reads and writes.
    """
    if session.get_bind().dialect.name == "sqlite":
        touched = session.execute(
            update(VoipLine)
            .where(VoipLine.service_id == service_id)
            .values(updated_at=now())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not touched:
            line_row(session, service_id)
    else:
        line_row(session, service_id)
    return session.scalars(
        select(VoipLine)
        .where(VoipLine.service_id == service_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def open_line(session: Session, service_id: int, opening_credit: Decimal, *, actor: str,
              threshold: Decimal | None = None) -> VoipLine:
    """A line's row with its opening credit posted to the ledger (the demo, a line
    taken over from elsewhere). Refused when the line has a row already."""
    if session.get(VoipLine, service_id) is not None:
        raise LineError(_l("the line %(id)s has its row already", id=service_id))
    service = session.get(Service, service_id)
    if service is None:
        raise LineError(_l("no service %(id)s", id=service_id))
    row = VoipLine(service_id=service_id, opening_credit=opening_credit,
                      low_credit_threshold=threshold, low_credit_notified=False)
    session.add(row)
    session.flush()
    postings.post_opening_credit(session, service_id, opening_credit,
                                 customer_id=service.customer_id, actor=actor)
    return row


def set_threshold(
    session: Session, service: Service, threshold: Decimal | None, *, actor: str, ip: str | None
) -> VoipLine:
    """The customer's low-credit warning level (None = no warning)."""
    if threshold is not None and (threshold < 0 or threshold != threshold.quantize(Decimal("0.01"))):
        raise LineError(_l("the threshold must be a non-negative amount in CZK"))
    row = lock_line(session, service.id)
    old = row.low_credit_threshold
    if old == threshold:
        return row
    row.low_credit_threshold = threshold
    # warn again next time the credit falls below the new level
    row.low_credit_notified = threshold is not None and row.credit < threshold and row.low_credit_notified
    audit.record(
        session,
        "voip.low_credit_threshold",
        actor=actor,
        customer_id=service.customer_id,
        field="low_credit_threshold",
        old_value=old,
        new_value=threshold,
        ip=ip,
        details={"number": service.phone_number},
    )
    session.flush()
    return row


def set_cap(session: Session, number: str, cap: Decimal | None, *, actor: str) -> tuple[Service, Decimal | None]:
    """Raise (or with ``None`` reset to the default) one line's monthly top-up cap.

    Returns the service and the old cap. Audited with the old and the new value.
    """
    service = line_by_number(session, number)
    if service is None:
        raise LineError(_l("no VoIP line %(number)s", number=number))
    if cap is not None and cap <= 0:
        raise LineError(_l("the cap must be a positive amount"))
    old = service.topup_cap
    service.topup_cap = cap
    audit.record(
        session,
        "voip.topup_cap",
        actor=actor,
        customer_id=service.customer_id,
        field="topup_cap",
        old_value="default" if old is None else old,
        new_value="default" if cap is None else cap,
        details={"number": service.phone_number},
    )
    session.flush()
    return service, old


# -- the read side ---------------------------------------------------------------------------


def month_start(on: date) -> datetime:
    """Midnight in Prague on the first day of ``on``'s month, as an aware datetime."""
    return datetime(on.year, on.month, 1, tzinfo=PRAGUE)


def next_month_start(on: date) -> datetime:
    year, month = (on.year + 1, 1) if on.month == 12 else (on.year, on.month + 1)
    return datetime(year, month, 1, tzinfo=PRAGUE)


def calls_page(session: Session, service_id: int, page: int, per_page: int) -> tuple[list[CallRecord], int]:
    """One page of the line's calls, newest first, and the number of all its calls."""
    total = session.scalar(select(func.count(CallRecord.id)).where(CallRecord.service_id == service_id))
    rows = session.scalars(
        select(CallRecord)
        .where(CallRecord.service_id == service_id)
        .order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total or 0


@dataclass(frozen=True)
class MonthTotal:
    month: date  # the first day
    calls: int
    seconds: int
    cost: Decimal


def monthly_totals(session: Session, service_id: int, on: date, months: int = 12) -> list[MonthTotal]:
    """Calls, answered seconds and cost per Prague calendar month, newest first (months
    without calls are left out)."""
    result = []
    first = date(on.year, on.month, 1)
    for _ in range(months):
        row = session.execute(
            select(func.count(CallRecord.id), func.sum(CallRecord.billsec), money_sum(CallRecord.cost))
            .where(
                CallRecord.service_id == service_id,
                CallRecord.started_at >= month_start(first),
                CallRecord.started_at < next_month_start(first),
            )
        ).one()
        if row[0]:
            result.append(MonthTotal(first, row[0], int(row[1] or 0), row[2]))
        first = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
    return result


# -- the operators' customer card (console) -------------------------------------------------


@dataclass(frozen=True)
class LineSummary:
    """One VoIP line of a customer as the customer card shows it."""

    service: Service
    credit: Decimal
    low_credit_threshold: Decimal | None
    calls: list[CallRecord]  # the newest first
    calls_count: int


def customer_lines(session: Session, customer_id: int, calls: int = 10) -> list[LineSummary]:
    """The customer's VoIP lines (ended ones too), each with its credit (the ledger's),
    its threshold, the number of its calls and its newest ``calls`` calls. Reads only: one
    query for the lines, one per line for its calls."""
    from billing.ledger.balances import line_credit_of

    rows = session.execute(
        select(
            Service,
            line_credit_of(Service.id),
            select(VoipLine.low_credit_threshold).where(VoipLine.service_id == Service.id)
            .scalar_subquery(),
            select(func.count(CallRecord.id)).where(CallRecord.service_id == Service.id)
            .scalar_subquery(),
        )
        .where(Service.customer_id == customer_id, Service.kind == "voip")
        .order_by(Service.valid_from, Service.id)
    ).all()
    result = []
    for service, credit, threshold, total in rows:
        recent = session.scalars(
            select(CallRecord).where(CallRecord.service_id == service.id)
            .order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).limit(calls)
        ).all()
        result.append(LineSummary(service=service, credit=credit,
                                  low_credit_threshold=threshold, calls=list(recent),
                                  calls_count=total or 0))
    return result

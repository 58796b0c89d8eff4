"""Call authorization before each call (issue 15 item 9; docs/voip-agi.md).

The PBX asks, before dialling out, "may line X call number Y, and for how long?". The
answer is the longest call the line's credit (its ``voip_line_credit`` ledger account,
billing.ledger.balances.line_credit) pays at the destination's rate in the tariff valid
today: connect fee and billing increments included, exactly as voip/rating.py will charge
it afterwards. So a call cut at the allowance never costs more than the credit.

* the allowance is a number of seconds ``s`` with ``rate.cost(s) <= credit`` and ``s`` the
  end of a billing block (the first block of ``initial_increment`` seconds, then blocks of
  ``increment``), found by a binary search over the blocks on the rating's integers;
* a refusal (``allowed=False``) with its reason: ``unknown_line`` (not one of our active
  lines), ``invalid_number``, ``no_tariff`` / ``no_rate`` (nobody could rate the call),
  ``no_credit`` (the first block costs more than the credit);
* a free destination (no price, no connect fee) is allowed ``max_seconds``;
* every allowance is capped at ``max_seconds`` (VOIP_AGI_MAX_SECONDS, 4 hours).

One SQL statement per authorization (the line and its credit); the tariff valid today is
looked up at most every few seconds and its prefix index is cached (voip/tariffs.py).
The FastAGI server is voip/agi.py, the HTTP endpoint ``/voip/authorize`` in voip/views.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from billing.ledger.balances import line_credit_of
from billing.models import Service
from core.clock import today
from voip.rating import Rate
from voip.tariffs import InvalidNumber, TariffIndex, index_for, normalize_number, tariff_on

MAX_SECONDS = 4 * 3600  # VOIP_AGI_MAX_SECONDS
TARIFF_TTL = 5.0  # seconds between looks for the tariff valid today


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    seconds: int  # 0 when refused
    reason: str  # "ok", "free" or why not
    credit: Decimal | None = None
    destination: str | None = None
    service_id: int | None = None

    def as_dict(self) -> dict:
        return {"allowed": self.allowed, "seconds": self.seconds, "reason": self.reason,
                "credit": None if self.credit is None else str(self.credit),
                "destination": self.destination}


def allowance(rate: Rate, credit: Decimal, max_seconds: int = MAX_SECONDS) -> int:
    """The longest call (seconds, at the end of a billing block) whose cost is within
    ``credit`` (VAT included); 0 when even the first block costs more."""
    cents = int((Decimal(credit) * 100).to_integral_value(rounding=ROUND_FLOOR))
    if cents <= 0:
        return 0
    initial, step = rate.initial_increment, rate.increment
    if rate.cost_cents(initial)[1] > cents:
        return 0
    if rate.cost_cents(max_seconds)[1] <= cents:
        return max_seconds
    low, high = 0, (max_seconds - initial) // step + 1  # blocks after the first
    while low < high:  # the greatest k with cost(initial + k * step) <= credit
        mid = (low + high + 1) // 2
        if rate.cost_cents(initial + mid * step)[1] <= cents:
            low = mid
        else:
            high = mid - 1
    return min(initial + low * step, max_seconds)


def _lines_query():
    day = bindparam("day")
    return (
        select(Service.phone_number, Service.id, line_credit_of(Service.id))
        .where(Service.kind == "voip", Service.phone_number.in_(bindparam("numbers", expanding=True)),
               Service.valid_from <= day, or_(Service.valid_to.is_(None), Service.valid_to >= day))
    )


_LINES_QUERY = _lines_query()
# the same on PostgreSQL as plain SQL with one array parameter: the least work per call
_LINES_SQL_PG = (
    "SELECT s.phone_number, s.id, (SELECT -coalesce(sum(l.amount), 0) FROM ledger_leg l "
    "JOIN ledger_account a ON a.id = l.account_id WHERE a.kind = 'voip_line_credit' "
    "AND a.service_id = s.id) FROM service s WHERE s.kind = 'voip' "
    "AND s.phone_number = ANY(%s) AND s.valid_from <= %s "
    "AND (s.valid_to IS NULL OR s.valid_to >= %s)"
)


def _lines(session: Session, numbers: list[str], day: date):
    """(number, service id, credit) of the active lines among ``numbers``."""
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.dbapi_connection.cursor()
        try:
            cursor.execute(_LINES_SQL_PG, (numbers, day, day))
            return [(n, sid, Decimal(c).quantize(Decimal("0.01"))) for n, sid, c in cursor.fetchall()]
        finally:
            cursor.close()
    return session.execute(_LINES_QUERY, {"numbers": numbers, "day": day}).all()


class Authorizer:
    """Answers authorizations; holds the tariff of the day between looks (thread-safe)."""

    def __init__(self, max_seconds: int = MAX_SECONDS, tariff_ttl: float = TARIFF_TTL):
        self.max_seconds = max_seconds
        self.tariff_ttl = tariff_ttl
        self._lock = threading.Lock()
        self._tariff: tuple[date, float, TariffIndex | None] | None = None

    def _index(self, session: Session, day: date) -> TariffIndex | None:
        cached = self._tariff
        clock = time.monotonic()
        if cached is not None and cached[0] == day and clock - cached[1] < self.tariff_ttl:
            return cached[2]
        tariff = tariff_on(session, day)
        index = index_for(session, tariff) if tariff is not None else None
        with self._lock:
            self._tariff = (day, clock, index)
        return index

    def authorize(self, session: Session, caller: str, destination: str,
                  on: date | None = None) -> Decision:
        return self.authorize_many(session, [(caller, destination)], on)[0]

    def authorize_many(self, session: Session, requests: list[tuple[str, str]],
                       on: date | None = None) -> list[Decision]:
        """Several authorizations with one SQL statement (the FastAGI server batches the
        requests that arrive together)."""
        day = on or today()
        parsed: list[tuple[str, str] | Decision] = []
        for caller, destination in requests:
            try:
                line = "+" + normalize_number(caller or "")
            except InvalidNumber:
                parsed.append(Decision(False, 0, "unknown_line"))
                continue
            try:
                parsed.append((line, normalize_number(destination or "")))
            except InvalidNumber:
                parsed.append(Decision(False, 0, "invalid_number"))
        numbers = sorted({p[0] for p in parsed if isinstance(p, tuple)})
        lines = {}
        if numbers:
            lines = {number: (sid, credit) for number, sid, credit in _lines(session, numbers, day)}
        index = self._index(session, day) if lines else None
        return [p if isinstance(p, Decision) else self._decide(lines.get(p[0]), p[1], index)
                for p in parsed]

    def _decide(self, line, number: str, index: TariffIndex | None) -> Decision:
        if line is None:
            return Decision(False, 0, "unknown_line")
        service_id, credit = line
        if index is None:
            return Decision(False, 0, "no_tariff", credit, None, service_id)
        rate = index.lookup(number)
        if rate is None:
            return Decision(False, 0, "no_rate", credit, None, service_id)
        if rate.price_per_minute == 0 and rate.connect_fee == 0:
            return Decision(True, self.max_seconds, "free", credit, rate.destination, service_id)
        seconds = allowance(rate, credit, self.max_seconds)
        if seconds <= 0:
            return Decision(False, 0, "no_credit", credit, rate.destination, service_id)
        return Decision(True, seconds, "ok", credit, rate.destination, service_id)


__all__ = ["MAX_SECONDS", "Authorizer", "Decision", "allowance"]

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

One SQL statement per authorization: the line, its credit and the version (id, imported_at)
of the tariff valid today, in one snapshot. The tariff's prefix index is held in memory and
rebuilt only when that version changes (a new or replaced price list, a new day), so it is
never stale and costs no query of its own.
The FastAGI server is voip/agi.py, the HTTP endpoint ``/voip/authorize`` in voip/views.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache

from sqlalchemy import bindparam, or_, select, true
from sqlalchemy.orm import Session

from billing.ledger.balances import line_credit_of
from billing.models import Service
from core.clock import today
from voip.models import Tariff
from voip.rating import Rate
from voip.tariffs import InvalidNumber, TariffIndex, index_for, is_emergency, normalize_number

MAX_SECONDS = 4 * 3600  # VOIP_AGI_MAX_SECONDS


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
    ``credit`` (VAT included); 0 when even the first block costs more. The number of blocks
    is solved on the rating's integers (``Rate.blocks_within``), then checked against
    ``Rate.cost_cents`` itself: the block found must be paid and the next one not (two
    evaluations instead of the dozen of a binary search)."""
    cents = int((Decimal(credit) * 100).to_integral_value(rounding=ROUND_FLOOR))
    if cents <= 0:
        return 0
    initial, step = rate.initial_increment, rate.increment
    if rate.cost_cents(initial)[1] > cents:
        return 0
    top = max(0, (max_seconds - initial) // step + 1)  # blocks after the first, to the cap's
    k = min(max(rate.blocks_within(cents), 0), top)
    while k > 0 and rate.cost_cents(initial + k * step)[1] > cents:  # never taken: a guard
        k -= 1
    while k < top and rate.cost_cents(initial + (k + 1) * step)[1] <= cents:  # idem
        k += 1
    return min(initial + k * step, max_seconds)


def _lines_query():
    day = bindparam("day")
    today_tariff = (select(Tariff.id, Tariff.imported_at).where(Tariff.valid_from <= day)
                    .order_by(Tariff.valid_from.desc()).limit(1).subquery())
    return (
        select(Service.phone_number, Service.id, line_credit_of(Service.id),
               today_tariff.c.id, today_tariff.c.imported_at)
        .outerjoin(today_tariff, true())
        .where(Service.kind == "voip", Service.phone_number.in_(bindparam("numbers", expanding=True)),
               Service.valid_from <= day, or_(Service.valid_to.is_(None), Service.valid_to >= day))
    )


_LINES_QUERY = _lines_query()
# The same on PostgreSQL as plain SQL with one array parameter, the least work per call (the
# FastAGI server prepares it once per connection): the active lines among the numbers, their
# credits, and the version of the tariff valid that day (its id and imported_at; a replaced
# price list gets a new imported_at), read in the same snapshot as the credits.
LINES_SQL_PG = (
    "SELECT s.phone_number, s.id, (SELECT -coalesce(sum(l.amount), 0) FROM ledger_leg l "
    "JOIN ledger_account a ON a.id = l.account_id WHERE a.kind = 'voip_line_credit' "
    "AND a.service_id = s.id), t.id, t.imported_at FROM service s "
    "LEFT JOIN LATERAL (SELECT id, imported_at FROM voip_tariff WHERE valid_from <= %(day)s "
    "ORDER BY valid_from DESC LIMIT 1) t ON true "
    "WHERE s.kind = 'voip' AND s.phone_number = ANY(%(numbers)s) AND s.valid_from <= %(day)s "
    "AND (s.valid_to IS NULL OR s.valid_to >= %(day)s)"
)
# the same with positional parameters ($1 the numbers, $2 the day), for PREPARE
LINES_SQL_PG_NUMBERED = LINES_SQL_PG.replace("%(numbers)s", "$1").replace("%(day)s", "$2")
CENT = Decimal("0.01")


def _lines(session: Session, numbers: list[str], day: date):
    """(number, service id, credit, tariff id, tariff imported_at) of the active lines among
    ``numbers`` (the tariff valid on ``day``, None when there is none)."""
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.dbapi_connection.cursor()
        try:
            cursor.execute(LINES_SQL_PG, {"numbers": numbers, "day": day})
            return [(n, sid, Decimal(c).quantize(CENT), tid, at)
                    for n, sid, c, tid, at in cursor.fetchall()]
        finally:
            cursor.close()
    return session.execute(_LINES_QUERY, {"numbers": numbers, "day": day}).all()


Version = tuple[int, object]  # (tariff id, imported_at)


class Authorizer:
    """Answers authorizations. Holds the prefix index of the tariff valid today, never stale:
    every statement that reads the credits also reads the tariff's version (id, imported_at),
    and a version the index was not built for rebuilds it first (thread-safe)."""

    def __init__(self, max_seconds: int = MAX_SECONDS, tariff_ttl: float | None = None):
        # tariff_ttl: accepted for callers of the former time-limited cache; no longer used
        self.max_seconds = max_seconds
        self._held: tuple[Version, TariffIndex | None] | None = None

    def held_index(self, version: Version | None) -> tuple[bool, TariffIndex | None]:
        """(True, index) when the index held is the one of ``version`` (or there is no tariff)."""
        if version is None:
            return True, None
        held = self._held
        if held is not None and held[0] == version:
            return True, held[1]
        return False, None

    def index_at(self, session: Session, version: Version | None) -> TariffIndex | None:
        """The prefix index of the tariff ``version`` (built from the database when the one
        held is of another version; an index newer than ``version`` is also fine)."""
        known, index = self.held_index(version)
        if known:
            return index
        tariff = session.get(Tariff, version[0])
        index = index_for(session, tariff) if tariff is not None else None
        self._held = (version, index)
        return index

    def authorize(self, session: Session, caller: str, destination: str,
                  on: date | None = None) -> Decision:
        return self.authorize_many(session, [(caller, destination)], on)[0]

    @staticmethod
    def parse(caller: str, destination: str) -> tuple[str, str] | Decision:
        """(our line as +E.164, the destination's digits), or the refusal of a bad number."""
        line = _normalized(caller or "")
        if line is None:
            return Decision(False, 0, "unknown_line")
        number = _normalized(destination or "")
        if number is None:
            return Decision(False, 0, "invalid_number")
        return "+" + line, number

    def authorize_many(self, session: Session, requests: list[tuple[str, str]],
                       on: date | None = None) -> list[Decision]:
        """Several authorizations with one SQL statement (the FastAGI server batches the
        requests that arrive together)."""
        day = on or today()
        parsed = [self.parse(caller, destination) for caller, destination in requests]
        numbers = sorted({p[0] for p in parsed if isinstance(p, tuple)})
        rows = _lines(session, numbers, day) if numbers else []
        index = self.index_at(session, version_of(rows)) if rows else None
        lines = {number: (sid, credit) for number, sid, credit, *_ in rows}
        return [p if isinstance(p, Decision) else self.decide(lines.get(p[0]), p[1], index)
                for p in parsed]

    def decide(self, line, number: str, index: TariffIndex | None) -> Decision:
        """The answer for ``line`` ((service id, credit) or None) calling ``number``."""
        if line is None:
            return Decision(False, 0, "unknown_line")
        service_id, credit = line
        if is_emergency(number):
            # 112 and the emergency services: free and never refused, whatever the price
            # list holds and whatever the credit (docs/voip-agi.md)
            rate = index.lookup(number) if index is not None else None
            return Decision(True, self.max_seconds, "emergency", credit,
                            rate.destination if rate is not None else None, service_id)
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


@lru_cache(maxsize=1 << 16)
def _normalized(raw: str) -> str | None:
    """``normalize_number(raw)``, None for what is not a number; remembered (a pure function
    of the text: the same lines and destinations come again and again)."""
    try:
        return normalize_number(raw)
    except InvalidNumber:
        return None


def version_of(rows) -> Version | None:
    """The tariff version read with the lines (the same on every row), None without one."""
    if not rows or rows[0][3] is None:
        return None
    return rows[0][3], rows[0][4]


__all__ = ["LINES_SQL_PG", "LINES_SQL_PG_NUMBERED", "MAX_SECONDS", "Authorizer", "Decision", "allowance", "version_of"]

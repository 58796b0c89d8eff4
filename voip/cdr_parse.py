"""Reading Asterisk call records (cdr-csv ``Master.csv``) and rating them: the parser of
voip/cdr.py's import, which stores what it yields (voip/cdr_pg.py on PostgreSQL).

Every line is validated, answered or not; a bad one raises :class:`CdrFileError` with its
line number. Answered calls of our VoIP numbers are rated with the tariff valid on their
start's Prague day. Column layout and time zone: see docs/voip-tariffs.md.
"""

from __future__ import annotations

import bisect
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Service, ServiceKind
from core.clock import PRAGUE
from core.errors import Invalid
from core.i18n import _l
from voip.models import Tariff
from voip.tariffs import TariffIndex, index_for, is_emergency

__all__ = ["Callers", "CdrFileError", "CdrImportResult", "Clock", "Tariffs", "listed_lines",
           "rated_calls"]

# Asterisk cdr_csv columns, in the order it writes them (0-based); uniqueid is written with
# loguniqueid=yes, userfield with loguserfield=yes, peeraccount/linkedid/sequence with
# newcdrcolumns=yes.
ACCOUNTCODE, SRC, DST, START, BILLSEC, DISPOSITION, UNIQUEID = 0, 1, 2, 9, 13, 14, 16
LAYOUTS = {17: "loguniqueid", 18: "loguniqueid + loguserfield", 21: "+ newcdrcolumns"}
MAX_LISTED = 50
DESTINATIONS_CACHED = 200_000  # dst texts remembered per tariff

# A rated call as the parser hands it to the writers: these voip_call columns, in this order,
# except that ``started_at`` is the local 'YYYY-MM-DD HH:MM:SS+01:00' and ``cost`` an int of
# haléře (exact; made a Decimal, or COPY text, when written).
CALL = ("cdr_uniqueid", "service_id", "started_at", "source", "billsec", "charged_seconds",
        "cost", "destination_number", "destination", "prefix", "tariff_id")


class CdrFileError(Invalid, ValueError):
    """The CDR file was rejected (with line numbers); nothing was imported."""


@dataclass
class CdrImportResult:
    lines: int = 0
    not_answered: int = 0
    unknown_callers: int = 0
    answered: int = 0  # answered calls of our numbers
    stored: int = 0  # new call records
    duplicates: int = 0  # imported before (or twice in the file)
    unrated_lines: list[int] = field(default_factory=list)  # skipped with skip_unrated
    total_cost: Decimal = Decimal("0.00")  # deducted from the credits now
    charged_lines: int = 0  # lines charged now
    low_credit: list[int] = field(default_factory=list)  # service ids newly below threshold
    # not charged: beyond one increment below zero credit (voip/cdr.py:_cap_at_one_increment)
    waived: Decimal = Decimal("0.00")
    waived_lines: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        text_ = (
            f"{self.lines} CDR lines: {self.answered} answered calls of our numbers, "
            f"{self.stored} new ({self.total_cost} Kč from {self.charged_lines} accounts), "
            f"{self.duplicates} already imported; {self.not_answered} not answered, "
            f"{self.unknown_callers} from unknown callers"
        )
        if self.unrated_lines:
            text_ += f"; {len(self.unrated_lines)} unrated calls skipped (lines {listed_lines(self.unrated_lines)})"
        if self.low_credit:
            text_ += f"; {len(self.low_credit)} accounts fell below their low-credit threshold"
        if self.waived:
            text_ += (f"; {self.waived} Kč not charged on {len(self.waived_lines)} lines "
                      "(beyond one increment below zero credit)")
        return text_


def listed_lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:MAX_LISTED]))
    if len(numbers) > MAX_LISTED:
        return _l("%(shown)s and %(count)s more", shown=shown, count=len(numbers) - MAX_LISTED)
    return shown


# --- numbers -------------------------------------------------------------------------------

_STRIP = str.maketrans("", "", " -./()\u00a0")


def _international(raw: str) -> str | None:
    """E.164 digits of a number as Asterisk wrote it, or None. National numbers (no '+'/'00')
    get 420: 9 digits, and also short service numbers such as 112 or 1188 (priced by the
    tariff's 420112..., or refused as unrated when it has no such prefix)."""
    s = raw.strip().translate(_STRIP)
    if s.startswith("+"):
        d = s[1:]
    elif s.startswith("00"):
        d = s[2:]
    elif len(s) == 12 and s.startswith("420"):
        d = s
    elif 3 <= len(s) <= 9 and s[:1] != "0":
        d = "420" + s
    else:
        return None
    if not (d.isascii() and d.isdigit()) or not 3 <= len(d) <= 15 or d[0] == "0":
        return None
    return d


class Callers:
    """Which of our VoIP services made the call: src, else the accountcode."""

    def __init__(self, session: Session):
        rows = session.execute(
            select(Service.phone_number, Service.id).where(
                Service.kind == ServiceKind.VOIP, Service.phone_number.is_not(None)
            )
        )
        self.by_digits = {number.lstrip("+"): sid for number, sid in rows}
        self.cache: dict[str, int] = {}

    def find(self, src: str, accountcode: str) -> int:
        sid = self.cache.get(src)
        if sid is None:
            digits = _international(src)
            sid = self.by_digits.get(digits, 0) if digits else 0
            if len(self.cache) < 200_000:
                self.cache[src] = sid
        if not sid and accountcode:
            digits = _international(accountcode)
            sid = self.by_digits.get(digits, 0) if digits else 0
        return sid


def _free(billsec: int) -> tuple[int, int]:
    """(charged seconds, cost in haléře) of an emergency call: its seconds, nothing."""
    return max(billsec, 0), 0


class _Rater:
    """The destinations of one tariff (None: days before any tariff): ``dst`` as Asterisk
    wrote it -> (``+`` international number, destination, prefix, tariff id, the rate's
    ``cost_cents``), or ``()`` when nothing prices it. Cached per written number (the same
    numbers are called again and again); the tariff's index is loaded at the first answered
    call that needs it."""

    def __init__(self, tariffs: Tariffs, tariff: Tariff | None):
        self.tariffs, self.tariff = tariffs, tariff
        self.index: TariffIndex | None = None
        self.cache: dict[str, tuple] = {}

    def resolve(self, dst: str) -> tuple:
        if dst.isdigit() and dst.isascii() and len(dst) == 9 and dst[0] != "0":
            number = "420" + dst  # the usual case: a Czech national number
        else:
            number = _international(dst)
        hit: tuple = ()
        if number and self.tariff is not None:
            if self.index is None:
                self.index = self.tariffs.load(self.tariff)
            rate = self.index.lookup(number)
            if rate is not None:
                # an emergency call is free whatever prefix of the price list matches it
                # (a catch-all 420 would otherwise price 155 as a fixed line)
                hit = ("+" + number, rate.destination, rate.prefix, self.index.tariff_id,
                       _free if is_emergency(number) else rate.cost_cents)
        if len(self.cache) < DESTINATIONS_CACHED:
            self.cache[dst] = hit
        return hit


class Tariffs:
    """The tariff valid on each day (greatest valid_from <= day), as a :class:`_Rater`."""

    def __init__(self, session: Session):
        self.session = session
        self.tariffs = list(session.scalars(select(Tariff).order_by(Tariff.valid_from)))
        self.starts = [t.valid_from for t in self.tariffs]
        self.raters: dict[int | None, _Rater] = {}
        # the PostgreSQL writer shares the connection from another thread
        self.lock: threading.Lock | nullcontext = nullcontext()

    def on(self, day: date) -> _Rater:
        i = bisect.bisect_right(self.starts, day)
        tariff = self.tariffs[i - 1] if i else None
        key = tariff.id if tariff is not None else None
        if key not in self.raters:
            self.raters[key] = _Rater(self, tariff)
        return self.raters[key]

    def load(self, tariff: Tariff) -> TariffIndex:
        with self.lock:
            return index_for(self.session, tariff)


class Clock:
    """Asterisk writes local time. Per start minute (time zones change offsets only on whole
    minutes): the UTC offset text, and the rater of the tariff valid on that Prague day."""

    def __init__(self, timezone: str, tariffs: Tariffs):
        self.tz = ZoneInfo(timezone)
        self.tariffs = tariffs
        self.cache: dict[str, tuple] = {}

    def place(self, start: str, line: int) -> tuple:
        """Validate ``start`` fully; (UTC offset text, rater's cache, rater's resolve)."""
        try:
            if len(start) != 19 or start[10] != " ":
                raise ValueError
            local = datetime.fromisoformat(start).replace(tzinfo=self.tz)  # fold=0
        except ValueError:
            raise CdrFileError(_l(
                "line %(line)s: bad start time %(start)s (expected YYYY-MM-DD HH:MM:SS)",
                line=line, start=repr(start))) from None
        minutes = int(local.utcoffset().total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        rater = self.tariffs.on(local.astimezone(PRAGUE).date())
        hit = (f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}", rater.cache,
               rater.resolve)
        self.cache[start[:16]] = hit
        return hit


# --- parsing + rating ----------------------------------------------------------------------


_SECONDS = frozenset(f":{i:02d}" for i in range(60))


def rated_calls(reader, result: CdrImportResult, callers: Callers, clock: Clock,
                 unrated: list[int], services: set[int], size: int):
    """Yield chunks of up to ``size`` answered calls of ours: {uniqueid: call}, a call being
    a tuple of plain values laid out as :data:`CALL` (the first line of a uniqueid repeated
    within a chunk counts), and add their callers to ``services``. Every line is validated,
    answered or not; this loop is the import's hot path (no Decimal, no datetime)."""
    places, place = clock.cache, clock.place
    known, find = callers.cache, callers.find
    serve = services.add
    lines = not_answered = unknown = answered = 0
    chunk: dict[str, tuple] = {}
    add = chunk.setdefault
    try:
        for row in reader:
            if len(row) not in LAYOUTS:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) == 16:
                    raise CdrFileError(_l(
                        "line %(line)s: %(count)s columns, expected 17, 18 or 21 (Asterisk "
                        "cdr-csv) (write Master.csv with loguniqueid=yes)",
                        line=reader.line_num, count=len(row)))
                raise CdrFileError(_l("line %(line)s: %(count)s columns, expected 17, 18 or 21 "
                                      "(Asterisk cdr-csv)", line=reader.line_num, count=len(row)))
            lines += 1
            uniqueid = row[UNIQUEID]
            if not uniqueid or len(uniqueid) > 150 or "\0" in uniqueid:
                if uniqueid and "\0" in uniqueid:
                    reason = _l("a NUL character in uniqueid")
                else:
                    reason = _l("missing or too long uniqueid")
                raise CdrFileError(_l("line %(line)s: %(reason)s", line=reader.line_num,
                                      reason=reason))
            start = row[START]
            where = places.get(start[:16])
            if where is None or len(start) != 19 or start[16:] not in _SECONDS:
                where = place(start, reader.line_num)
            try:
                billsec = int(row[BILLSEC])
                if billsec < 0:
                    raise ValueError
            except ValueError:
                raise CdrFileError(_l("line %(line)s: bad billsec %(value)s (whole seconds)",
                                      line=reader.line_num, value=repr(row[BILLSEC]))) from None
            if row[DISPOSITION] != "ANSWERED":
                not_answered += 1
                continue
            src = row[SRC]
            sid = known.get(src)
            if not sid:
                sid = find(src, row[ACCOUNTCODE])
                if not sid:
                    unknown += 1
                    continue
            answered += 1
            dst = row[DST]
            hit = where[1].get(dst)
            if hit is None:
                hit = where[2](dst)
            if not hit or len(src) > 80:
                unrated.append(reader.line_num)
                continue
            if "\0" in src:  # a caller found by its accountcode; stored as the source
                raise CdrFileError(_l("line %(line)s: a NUL character in src", line=reader.line_num))
            number, destination, prefix, tariff_id, cost = hit
            charged, cents = cost(billsec)
            add(uniqueid, (uniqueid, sid, start + where[0], src, billsec, charged, cents, number,
                           destination, prefix, tariff_id))
            serve(sid)
            if len(chunk) >= size:
                yield chunk
                chunk = {}
                add = chunk.setdefault
        if chunk:
            yield chunk
    finally:
        result.lines += lines
        result.not_answered += not_answered
        result.unknown_callers += unknown
        result.answered += answered

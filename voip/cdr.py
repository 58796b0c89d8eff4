"""Importing Asterisk call records (cdr-csv ``Master.csv``): rate each answered call of one of
our VoIP numbers with the tariff valid at its start, store it once, deduct it from the credit.

The file is one unit: a malformed line (column count, timestamp, billsec, missing uniqueid)
rejects it with its line number, and so do answered calls of our numbers that no tariff
prices ("unrated", unless ``skip_unrated``). Everything happens inside a SAVEPOINT, so a
rejected file leaves the caller's transaction as it was. Calls are keyed by Asterisk's
``uniqueid``: a re-imported or overlapping file stores and deducts nothing twice (INSERT ...
ON CONFLICT DO NOTHING; a concurrent importer waits on the key and then skips it).

On PostgreSQL the rated calls go into a temporary table by COPY in chunks as the file is
parsed, then one statement inserts the new ones and subtracts their sum per account.
Elsewhere (SQLite) an executemany does the same; both give identical results.
Column layout and time zone: see docs/voip-tariffs.md.
"""

from __future__ import annotations

import bisect
import csv
import io
import queue
import threading
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing import audit
from billing.clock import PRAGUE, now
from billing.db import is_in
from billing.models import Service
from voip.models import CallRecord, Tariff, VoipAccount
from voip.tariffs import TariffIndex, index_for

__all__ = ["CdrFileError", "CdrImportResult", "import_cdr"]

# Asterisk cdr_csv columns, in the order it writes them (0-based); uniqueid is written with
# loguniqueid=yes, userfield with loguserfield=yes, peeraccount/linkedid/sequence with
# newcdrcolumns=yes.
ACCOUNTCODE, SRC, DST, START, BILLSEC, DISPOSITION, UNIQUEID = 0, 1, 2, 9, 13, 14, 16
LAYOUTS = {17: "loguniqueid", 18: "loguniqueid + loguserfield", 21: "+ newcdrcolumns"}
MAX_LISTED = 50
SQLITE_CHUNK = 5000
PG_CHUNK = 50_000


class CdrFileError(ValueError):
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
    accounts: int = 0  # accounts charged now
    low_credit: list[int] = field(default_factory=list)  # service ids newly below threshold

    def __str__(self) -> str:
        text_ = (
            f"{self.lines} CDR lines: {self.answered} answered calls of our numbers, "
            f"{self.stored} new ({self.total_cost} Kč from {self.accounts} accounts), "
            f"{self.duplicates} already imported; {self.not_answered} not answered, "
            f"{self.unknown_callers} from unknown callers"
        )
        if self.unrated_lines:
            text_ += f"; {len(self.unrated_lines)} unrated calls skipped (lines {_lines(self.unrated_lines)})"
        if self.low_credit:
            text_ += f"; {len(self.low_credit)} accounts fell below their low-credit threshold"
        return text_


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:MAX_LISTED]))
    return shown + (f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else "")


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


class _Callers:
    """Which of our VoIP services made the call: src, else the accountcode."""

    def __init__(self, session: Session):
        rows = session.execute(
            select(Service.phone_number, Service.id).where(
                Service.kind == "voip", Service.phone_number.is_not(None)
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


class _Clock:
    """Asterisk writes local time: the UTC offset and the Prague day of each start minute
    (cached per minute: time zones change offsets only on whole minutes)."""

    def __init__(self, timezone: str):
        self.tz = ZoneInfo(timezone)
        self.cache: dict[str, tuple[str, date]] = {}

    def place(self, start: str, line: int) -> tuple[str, date]:
        """Validate ``start`` fully and return its (UTC offset text, Prague day)."""
        try:
            if len(start) != 19 or start[10] != " ":
                raise ValueError
            local = datetime.fromisoformat(start).replace(tzinfo=self.tz)  # fold=0
        except ValueError:
            raise CdrFileError(
                f"line {line}: bad start time {start!r} (expected YYYY-MM-DD HH:MM:SS)"
            ) from None
        minutes = int(local.utcoffset().total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        hit = (f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
               local.astimezone(PRAGUE).date())
        self.cache[start[:16]] = hit
        return hit


class _Tariffs:
    """The tariff index valid on each day (greatest valid_from <= day)."""

    def __init__(self, session: Session):
        self.session = session
        self.tariffs = list(session.scalars(select(Tariff).order_by(Tariff.valid_from)))
        self.starts = [t.valid_from for t in self.tariffs]
        self.by_day: dict[date, TariffIndex | None] = {}
        # the PostgreSQL writer shares the connection from another thread
        self.lock: threading.Lock | nullcontext = nullcontext()

    def on(self, day: date) -> TariffIndex | None:
        if day not in self.by_day:
            i = bisect.bisect_right(self.starts, day)
            with self.lock:
                self.by_day[day] = index_for(self.session, self.tariffs[i - 1]) if i else None
        return self.by_day[day]


# --- parsing + rating ----------------------------------------------------------------------


_SECONDS = frozenset(f"{i:02d}" for i in range(60))


def _rated_calls(reader, result: CdrImportResult, callers, clock, tariffs, unrated):
    """Yield (uniqueid, service_id, start with UTC offset, src, +number, destination, prefix,
    billsec, charged seconds, cost as text '12.34', tariff_id) for each answered call of ours.
    Every line is validated, answered or not; this loop is the import's hot path."""
    places, place, find, on = clock.cache, clock.place, callers.find, tariffs.on
    for row in reader:
        if len(row) not in LAYOUTS:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            hint = " (write Master.csv with loguniqueid=yes)" if len(row) == 16 else ""
            raise CdrFileError(f"line {reader.line_num}: {len(row)} columns, expected 17, 18 "
                               f"or 21 (Asterisk cdr-csv){hint}")
        result.lines += 1
        uniqueid = row[UNIQUEID]
        if not uniqueid or len(uniqueid) > 150:
            raise CdrFileError(f"line {reader.line_num}: missing or too long uniqueid")
        start = row[START]
        where = places.get(start[:16])
        if where is None or len(start) != 19 or start[16] != ":" or start[17:] not in _SECONDS:
            where = place(start, reader.line_num)
        try:
            billsec = int(row[BILLSEC])
            if billsec < 0:
                raise ValueError
        except ValueError:
            raise CdrFileError(f"line {reader.line_num}: bad billsec {row[BILLSEC]!r} "
                               "(whole seconds)") from None
        if row[DISPOSITION] != "ANSWERED":
            result.not_answered += 1
            continue
        src = row[SRC]
        sid = find(src, row[ACCOUNTCODE])
        if not sid:
            result.unknown_callers += 1
            continue
        result.answered += 1
        dst = row[DST]
        if dst.isdigit() and dst.isascii() and len(dst) == 9 and dst[0] != "0":
            number = "420" + dst  # the usual case: a Czech national number
        else:
            number = _international(dst)
        index = on(where[1]) if number else None
        rate = index.lookup(number) if index else None
        if rate is None or len(src) > 80:
            unrated.append(reader.line_num)
            continue
        charged, cents = rate.cost_cents(billsec)
        yield (uniqueid, sid, start + where[0], src, "+" + number, rate.destination, rate.prefix,
               billsec, charged, f"{cents // 100}.{cents % 100:02d}", index.tariff_id)


def _open(source) -> tuple[TextIO, str | None]:
    if isinstance(source, str | Path):
        # Asterisk writes bytes as they came (caller names); never fail on the encoding
        return open(source, encoding="utf-8", errors="replace", newline=""), str(source)
    if isinstance(source, io.TextIOBase) or hasattr(source, "read"):
        return source, getattr(source, "name", None)
    raise TypeError("source must be a path or a text stream")


def import_cdr(
    session: Session,
    source: str | Path | TextIO,
    *,
    actor: str,
    skip_unrated: bool = False,
    timezone: str = "Europe/Prague",
) -> CdrImportResult:
    """Import a Master.csv (path or text stream). CdrFileError with line numbers: nothing
    changed. Returns counts and the accounts that fell below their low-credit threshold
    (their flag is set here; the caller sends the e-mails after committing)."""
    stream, name = _open(source)
    result = CdrImportResult()
    reader = csv.reader(stream)
    try:
        with session.begin_nested():
            event = audit.record(session, "voip.cdr_imported", actor=actor, new_value=(name or "")[-200:])
            session.flush()
            unrated: list[int] = []
            tariffs = _Tariffs(session)
            calls = _rated_calls(reader, result, _Callers(session), _Clock(timezone), tariffs,
                                 unrated)
            writer = _PgWriter if session.get_bind().dialect.name == "postgresql" else _SqliteWriter
            charged = writer(session, event.id).run(calls, tariffs)
            if unrated and not skip_unrated:
                raise CdrFileError(
                    f"{len(unrated)} answered calls cannot be rated (no tariff prefix for the "
                    f"number, or no tariff valid that day) on lines {_lines(unrated)}; "
                    "add the prefixes to the tariff, or import with --skip-unrated"
                )
            result.unrated_lines = unrated
            _settle(session, result, charged)
            event.details = _details(result, name)
            session.flush()
    except csv.Error as exc:  # e.g. a NUL byte, an unterminated quote
        raise CdrFileError(f"line {reader.line_num}: {exc}") from None
    finally:
        if isinstance(source, str | Path):
            stream.close()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, VoipAccount):
            session.expire(obj)
    return result


def _details(result: CdrImportResult, name: str | None) -> str:
    import json

    return json.dumps(
        {"file": name, "lines": result.lines, "stored": result.stored,
         "duplicates": result.duplicates, "total_cost": str(result.total_cost),
         "accounts": result.accounts, "unrated_skipped": len(result.unrated_lines),
         "unknown_callers": result.unknown_callers, "not_answered": result.not_answered},
        ensure_ascii=False,
    )


def _settle(session: Session, result: CdrImportResult, charged: dict[int, tuple[int, Decimal]]):
    result.stored = sum(calls for calls, _ in charged.values())
    result.duplicates = result.answered - len(result.unrated_lines) - result.stored
    result.total_cost = sum((total for _, total in charged.values()), Decimal("0.00"))
    result.accounts = sum(1 for calls, _ in charged.values() if calls)
    if not charged:
        return
    table = VoipAccount.__table__
    flagged = session.execute(
        update(table)
        .where(
            is_in(session, table.c.service_id, list(charged)),
            table.c.low_credit_threshold.is_not(None),
            table.c.credit < table.c.low_credit_threshold,
            table.c.low_credit_notified.is_(False),
        )
        .values(low_credit_notified=True)
        .returning(table.c.service_id)
    )
    result.low_credit = sorted(flagged.scalars())


def _ensure_accounts(session: Session, service_ids) -> None:
    if not service_ids:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    moment = now()
    session.execute(
        insert(VoipAccount.__table__).on_conflict_do_nothing(index_elements=["service_id"]),
        [
            {"service_id": sid, "credit": Decimal("0.00"), "opening_credit": Decimal("0.00"),
             "low_credit_notified": False, "updated_at": moment}
            for sid in sorted(service_ids)
        ],
    )


COLUMNS = ("cdr_uniqueid", "service_id", "started_at", "source", "destination_number",
           "destination", "prefix", "billsec", "charged_seconds", "cost", "tariff_id")


class _PgWriter:
    """A second thread COPYs each chunk of rated calls into a temporary table and inserts the
    new ones (ON CONFLICT DO NOTHING), summing their cost per account, while this thread
    parses the next chunk; then one UPDATE charges the accounts.

    The two threads share the session's connection (one transaction): ``lock`` keeps the
    parser's occasional query (loading a tariff's index) out of a running COPY."""

    def __init__(self, session: Session, batch: int):
        self.session, self.batch = session, batch
        self.lock = threading.Lock()
        self.failure: list[BaseException] = []
        self.services: set[int] = set()

    def run(self, calls, tariffs) -> dict[int, tuple[int, Decimal]]:
        s = self.session
        s.execute(text(
            "CREATE TEMP TABLE IF NOT EXISTS voip_cdr_incoming (cdr_uniqueid text, "
            "service_id integer, started_at timestamptz, source text, destination_number text, "
            "destination text, prefix text, billsec integer, charged_seconds integer, "
            "cost numeric(12,2), tariff_id integer) ON COMMIT DROP"
        ))
        s.execute(text(
            "CREATE TEMP TABLE IF NOT EXISTS voip_cdr_charged "
            "(service_id integer, calls integer, total numeric(14,2)) ON COMMIT DROP"
        ))
        s.execute(text("TRUNCATE voip_cdr_incoming, voip_cdr_charged"))
        raw = s.connection().connection.driver_connection
        chunks: queue.Queue = queue.Queue(maxsize=2)
        worker = threading.Thread(target=self._work, args=(raw, chunks, now()), daemon=True)
        tariffs.lock = self.lock
        worker.start()
        try:
            chunk: list[tuple] = []
            for call in calls:
                chunk.append(call)
                if len(chunk) >= PG_CHUNK:
                    chunks.put(chunk)
                    chunk = []
                    if self.failure:
                        break
            chunks.put(chunk)
        finally:
            chunks.put(None)
            worker.join()
            tariffs.lock = nullcontext()
        if self.failure:
            raise self.failure[0]
        if not self.services:
            return {}
        _ensure_accounts(s, self.services)
        rows = s.execute(
            text(
                "UPDATE voip_account AS a SET credit = a.credit - c.total, updated_at = :moment "
                "FROM (SELECT service_id, sum(calls) AS calls, sum(total) AS total "
                "FROM voip_cdr_charged GROUP BY service_id) AS c "
                "WHERE a.service_id = c.service_id RETURNING a.service_id, c.calls, c.total"
            ),
            {"moment": now()},
        )
        return {sid: (int(calls), Decimal(total).quantize(Decimal("0.01"))) for sid, calls, total in rows}

    def _work(self, raw, chunks: queue.Queue, moment) -> None:
        columns = ", ".join(COLUMNS)
        insert = (
            f"WITH ins AS (INSERT INTO voip_call ({columns}, imported_at, import_batch) "
            f"SELECT {columns}, %s, %s FROM voip_cdr_incoming "
            "ON CONFLICT (cdr_uniqueid) DO NOTHING RETURNING service_id, cost) "
            "INSERT INTO voip_cdr_charged SELECT service_id, count(*), sum(cost) "
            "FROM ins GROUP BY service_id"
        )
        while (chunk := chunks.get()) is not None:
            if self.failure or not chunk:
                continue  # keep draining so that the parser never blocks
            try:
                with self.lock, raw.cursor() as cur:
                    with cur.copy(f"COPY voip_cdr_incoming ({columns}) FROM STDIN") as copy:
                        write, add = copy.write_row, self.services.add
                        for call in chunk:
                            add(call[1])
                            write(call)
                    cur.execute(insert, (moment, self.batch))
                    cur.execute("TRUNCATE voip_cdr_incoming")
            except BaseException as exc:  # re-raised in the parsing thread
                self.failure.append(exc)


class _SqliteWriter:
    """executemany INSERT ... ON CONFLICT DO NOTHING RETURNING, in chunks."""

    def __init__(self, session: Session, batch: int):
        self.session, self.batch = session, batch
        self.moment = now()
        self.charged: dict[int, list] = defaultdict(lambda: [0, 0])
        self.services: set[int] = set()

    def run(self, calls, tariffs) -> dict[int, tuple[int, Decimal]]:
        chunk: list[dict] = []
        for call in calls:
            chunk.append(self._row(call))
            if len(chunk) >= SQLITE_CHUNK:
                self._insert(chunk)
                chunk = []
        self._insert(chunk)
        _ensure_accounts(self.session, self.services)
        table = VoipAccount.__table__
        result = {}
        for sid, (calls, cents) in sorted(self.charged.items()):
            total = Decimal(cents).scaleb(-2)
            self.session.execute(
                update(table).where(table.c.service_id == sid)
                .values(credit=table.c.credit - total, updated_at=self.moment)
            )
            result[sid] = (calls, total)
        return result

    def _row(self, call) -> dict:
        values = dict(zip(COLUMNS, call[:9] + (Decimal(call[9]), call[10]), strict=True))
        values["started_at"] = datetime.fromisoformat(call[2]).astimezone(UTC)
        values["imported_at"] = self.moment
        values["import_batch"] = self.batch
        return values

    def _insert(self, rows: list[dict]) -> None:
        if not rows:
            return
        for row in rows:
            self.services.add(row["service_id"])
        table = CallRecord.__table__
        stmt = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["cdr_uniqueid"])
            .returning(table.c.service_id, table.c.cost)
        )
        for sid, cost in self.session.connection().execute(stmt, rows):
            entry = self.charged[sid]
            entry[0] += 1
            entry[1] += int(cost * 100)


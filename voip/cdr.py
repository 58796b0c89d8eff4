"""Importing Asterisk call records (cdr-csv ``Master.csv``): rate each answered call of one of
our VoIP numbers with the tariff valid at its start, store it once, deduct it from the credit.

The file is one unit: a malformed line (column count, timestamp, billsec, missing uniqueid)
rejects it with its line number, and so do answered calls of our numbers that no tariff
prices ("unrated", unless ``skip_unrated``). Everything happens inside a SAVEPOINT, so a
rejected file leaves the caller's transaction as it was. Calls are keyed by Asterisk's
``uniqueid``: a re-imported or overlapping file stores and deducts nothing twice.

On PostgreSQL (voip/cdr_pg.py) importers take turns on a transaction-level advisory lock;
the calls not stored yet are COPied straight into voip_call in chunks while the file is
parsed. The charges of the file are one ledger transaction (billing.ledger.postings). Elsewhere (SQLite) an executemany
INSERT ... ON CONFLICT DO NOTHING does the same; both give identical results.
Parsing and rating: voip/cdr_parse.py. Column layout and time zone: see docs/voip-tariffs.md.
"""

from __future__ import annotations

import csv
import gc
import io
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import TextIO

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from billing.ledger import postings
from billing.ledger.balances import line_credit_of
from billing.models import Service
from core import audit
from core.clock import now
from core.db import is_in
from core.i18n import _l
from core.i18n import number as shown_number
from voip.cdr_parse import (
    CALL,
    Callers,
    CdrFileError,
    CdrImportResult,
    Clock,
    Tariffs,
    listed_lines,
    rated_calls,
)
from voip.lines import ensure_lines
from voip.models import CallRecord, TariffRate, VoipLine

ZERO = Decimal("0.00")

__all__ = ["CdrFileError", "CdrImportResult", "import_cdr"]

SQLITE_CHUNK = 5000
PG_CHUNK = 20_000  # rated calls per COPY (voip/cdr_pg.py)


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
    changed. Returns counts and the lines that fell below their low-credit threshold
    (their flag is set here; the caller sends the e-mails after committing)."""
    stream, name = _open(source)
    result = CdrImportResult()
    reader = csv.reader(stream)
    try:
        with _no_cycle_collection(), session.begin_nested():
            # the audit event is written last, complete (the trail is append-only); the
            # calls carry its id as their import batch
            started, batch = now(), audit.reserve_id(session)
            unrated: list[int] = []
            tariffs = Tariffs(session)
            pg = session.get_bind().dialect.name == "postgresql"
            services: set[int] = set()  # with a rated call in the file, new or not
            chunks = rated_calls(reader, result, Callers(session), Clock(timezone, tariffs),
                                  unrated, services, PG_CHUNK if pg else SQLITE_CHUNK)
            if pg:
                from voip.cdr_pg import PgWriter

                charged = PgWriter(session, batch).run(chunks, services, tariffs)
            else:
                charged = _SqliteWriter(session, batch).run(chunks, services)
            if unrated and not skip_unrated:
                raise CdrFileError(_l(
                    "%(count)s answered calls cannot be rated (no tariff prefix for the "
                    "number, or no tariff valid that day) on lines %(lines)s; add the prefixes "
                    "to the tariff, or import with --skip-unrated",
                    count=shown_number(len(unrated)), lines=listed_lines(unrated)))
            result.unrated_lines = unrated
            charged = _cap_at_one_increment(session, charged, batch, result)
            postings.post_call_charges(
                session, {sid: total for sid, (_calls, total) in charged.items()},
                reference=f"cdr:{batch}", actor=actor,
            )
            _settle(session, result, charged)
            event = audit.record(session, "voip.cdr_imported", actor=actor, id=batch, at=started,
                                 new_value=(name or "")[-200:])
            event.details = _details(result, name)  # before it is written: one INSERT
            session.flush()
    except csv.Error as exc:  # e.g. a NUL byte, an unterminated quote
        raise CdrFileError(_l("line %(line)s: %(reason)s", line=reader.line_num,
                                  reason=str(exc))) from None
    finally:
        if isinstance(source, str | Path):
            stream.close()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, VoipLine):
            session.expire(obj)
    return result


@contextmanager
def _no_cycle_collection():
    """Without the cyclic garbage collector: the chunks of calls alive between the parser and
    the writer set off full collections, each walking every object of the process (the
    tariff index, the caches): +25 % of the parser's time for 1,000,000 calls (8 full
    collections; it was +90 % before the calls were plain tuples). The import makes no
    garbage cycles worth collecting meanwhile; reference counting frees the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _details(result: CdrImportResult, name: str | None) -> str:
    import json

    return json.dumps(
        {"file": name, "lines": result.lines, "stored": result.stored,
         "duplicates": result.duplicates, "total_cost": str(result.total_cost),
         "accounts": result.charged_lines, "unrated_skipped": len(result.unrated_lines),
         "unknown_callers": result.unknown_callers, "not_answered": result.not_answered,
         "waived": str(result.waived)},
        ensure_ascii=False,
    )


def _cap_at_one_increment(session: Session, charged: dict[int, tuple[int, Decimal]], batch: int,
                          result: CdrImportResult) -> dict[int, tuple[int, Decimal]]:
    """What a file's calls take from a line never leaves its credit below zero by more than
    one billing increment (of the dearest rate among the line's calls in the file): the PBX
    cut each call at the allowance the credit bought (voip/authorize.py), so anything beyond
    is a late hang-up, rated and stored as usual but not charged (``result.waived``). One
    query for the credits; a second only when some line would go below zero."""
    if not charged:
        return charged
    credits = dict(session.execute(
        select(Service.id, line_credit_of(Service.id)).where(is_in(session, Service.id, list(charged)))
    ).all())
    over = [sid for sid, (_calls, total) in charged.items() if credits.get(sid, ZERO) - total < 0]
    if not over:
        return charged
    steps: dict[int, Decimal] = {}
    for sid, price, seconds, vat in session.execute(
        select(CallRecord.service_id, TariffRate.price_per_minute, TariffRate.increment,
               TariffRate.vat_rate)
        .join(TariffRate, and_(TariffRate.tariff_id == CallRecord.tariff_id,
                               TariffRate.prefix == CallRecord.prefix))
        .where(is_in(session, CallRecord.service_id, over), CallRecord.import_batch == batch)
        .distinct()
    ):
        # price (Kč/min, net) * seconds / 60 * (100 + VAT %) / 100: one increment with VAT
        step = (Decimal(price) * seconds * (100 + Decimal(str(vat))) / 6000).quantize(
            Decimal("0.01"), ROUND_CEILING)
        steps[sid] = max(steps.get(sid, ZERO), step)
    capped = dict(charged)
    for sid in over:
        calls, total = charged[sid]
        allowed = max(ZERO, credits.get(sid, ZERO) + steps.get(sid, ZERO))
        if total > allowed:
            capped[sid] = (calls, allowed)
            result.waived += total - allowed
            result.waived_lines.append(sid)
    return capped


def _settle(session: Session, result: CdrImportResult, charged: dict[int, tuple[int, Decimal]]):
    result.stored = sum(calls for calls, _ in charged.values())
    result.duplicates = result.answered - len(result.unrated_lines) - result.stored
    result.total_cost = sum((total for _, total in charged.values()), Decimal("0.00"))
    result.charged_lines = sum(1 for calls, _ in charged.values() if calls)
    if not charged:
        return
    table = VoipLine.__table__
    flagged = session.execute(
        update(table)
        .where(
            is_in(session, table.c.service_id, list(charged)),
            table.c.low_credit_threshold.is_not(None),
            line_credit_of(table.c.service_id) < table.c.low_credit_threshold,
            table.c.low_credit_notified.is_(False),
        )
        .values(low_credit_notified=True)
        .returning(table.c.service_id)
    )
    result.low_credit = sorted(flagged.scalars())


class _SqliteWriter:
    """executemany INSERT ... ON CONFLICT DO NOTHING RETURNING, in chunks."""

    def __init__(self, session: Session, batch: int):
        self.session, self.batch = session, batch
        self.moment = now()
        self.charged: dict[int, list] = defaultdict(lambda: [0, 0])

    def run(self, chunks, services: set[int]) -> dict[int, tuple[int, Decimal]]:
        for chunk in chunks:
            self._insert([self._row(call) for call in chunk.values()])
        ensure_lines(self.session, services)
        table = VoipLine.__table__
        result = {}
        for sid, (calls, cents) in sorted(self.charged.items()):
            total = Decimal(cents).scaleb(-2)
            # the line's row, as a top-up locks it (the charges are posted by import_cdr)
            self.session.execute(
                update(table).where(table.c.service_id == sid).values(updated_at=self.moment)
            )
            result[sid] = (calls, total)
        return result

    def _row(self, call) -> dict:
        values = dict(zip(CALL, call, strict=True))
        values["started_at"] = datetime.fromisoformat(values["started_at"]).astimezone(UTC)
        values["cost"] = Decimal(values["cost"]).scaleb(-2)
        values["imported_at"] = self.moment
        values["import_batch"] = self.batch
        return values

    def _insert(self, rows: list[dict]) -> None:
        if not rows:
            return
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

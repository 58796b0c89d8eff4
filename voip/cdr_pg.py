"""The PostgreSQL side of the CDR import (voip/cdr.py): the calls not stored yet go straight
into ``voip_call`` by COPY, a chunk at a time, while the file is parsed; then one UPDATE
subtracts their sum from each line.

Once only, even with importers running at once: an importer first takes a transaction-level
advisory lock (:data:`LOCK_KEY`), so the next one waits until it has committed or rolled
back; each chunk then asks which of its uniqueids are stored already (every statement sees
what the importers before it committed, and the earlier chunks of this file) and COPies the
others. The unique key on ``cdr_uniqueid`` still guards it all: a call stored some other way
at the same moment fails the import rather than counting twice.

Two threads share the session's connection (one transaction). The parsing thread also makes
each chunk's COPY text (grouped by service, the order of ix_voip_call_service_start); the
worker thread only asks, drops what is stored and sends the rest, so that PostgreSQL, which
does most of the work (the index entries and the two foreign-key checks of each row), is
never kept waiting. When most calls of a chunk were stored (a Master.csv imported again
with a day's new calls at its end) the worker makes the text of the new ones itself instead.
``lock`` keeps the parser's occasional query (loading a tariff's index) out of a COPY.

Why not a temporary table and INSERT ... ON CONFLICT DO NOTHING (the first version): for
1,000,000 calls that wrote and read every row twice and made a speculative insertion per
row, and a re-imported file cost nearly as much as a new one.
"""

from __future__ import annotations

import json
import operator
import queue
import threading
from contextlib import nullcontext
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.clock import now
from voip.cdr_parse import CALL
from voip.lines import ensure_lines

__all__ = ["LOCK_KEY", "PgWriter", "copy_text"]

LOCK_KEY = int.from_bytes(b"voip.cdr", "big")  # pg_advisory_xact_lock key of CDR imports
COPY_LINES = 5000  # lines per write to the COPY stream
CACHED = 100_000  # texts remembered per kind (sources, destinations, costs)
LAZY_SHARE = 0.5  # more of the last chunk stored: the worker makes the next chunk's text

COPY = f"COPY voip_call ({', '.join(CALL)}, imported_at, import_batch) FROM STDIN"

# Which of a chunk's uniqueids are stored: first one probe of the unique index for any
# stored uniqueid between the chunk's least and greatest (none, as a rule, in a file of new
# calls), then one probe per uniqueid. LATERAL subqueries, because with ``cdr_uniqueid =
# ANY(...)`` the planner, whose row estimate of voip_call lags far behind the rows an import
# COPies in, scanned the whole table per chunk. The usual uniqueids (no tab, newline, CR or
# backslash) travel as one text each way; any others as JSON in, a row each out.
_PROBE = "LATERAL (SELECT 1 FROM voip_call AS c WHERE c.cdr_uniqueid = u LIMIT 1) AS stored"
STORED_TEXT = (
    r"WITH chunk AS (SELECT string_to_array(%s, E'\t') AS ids) "
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM (SELECT min(u) AS lo, max(u) AS hi "
    "FROM chunk, unnest(chunk.ids) AS u) AS r, LATERAL (SELECT 1 FROM voip_call AS c "
    "WHERE c.cdr_uniqueid BETWEEN r.lo AND r.hi LIMIT 1) AS near) "
    r"THEN (SELECT string_agg(u, E'\t') FROM chunk, unnest(chunk.ids) AS u, " + _PROBE + ") END"
)
STORED_JSON = "SELECT u FROM json_array_elements_text(%s::json) AS u, " + _PROBE

# Grouped by service, in file order within it (a stable sort): each service's calls land on
# the same few pages of ix_voip_call_service_start (about 10 % less work for PostgreSQL with
# 1,000,000 calls of 2,000 services).
_BY_SERVICE = operator.itemgetter(1)

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def plain(value: str) -> bool:
    """No character that COPY's text format escapes (and no tab to split on)."""
    return not ("\t" in value or "\\" in value or "\n" in value or "\r" in value)


def copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format (backslash, tab, newline, CR escaped)."""
    return value if plain(value) else value.translate(_ESCAPES)


class _Chunk:
    """A chunk of calls, with its COPY text made in the parsing thread (``lines`` None: to
    be made by the worker for the calls not stored)."""

    __slots__ = ("calls", "clean", "lines", "sums", "uniqueids")

    def __init__(self, calls: dict[str, tuple], clean: bool, uniqueids: list[str],
                 lines: list[str] | None = None, sums: dict[int, list[int]] | None = None):
        self.calls = calls  # uniqueid -> call (voip.cdr_parse.CALL)
        self.clean = clean  # no uniqueid has a character COPY escapes
        self.uniqueids, self.lines = uniqueids, lines  # in the same order
        self.sums = sums  # service id -> [calls, haléře]


class PgWriter:
    """Stores the new calls of the parser's chunks (voip.cdr_parse.rated_calls)."""

    def __init__(self, session: Session, batch: int):
        self.session = session
        self.lock = threading.Lock()
        self.failure: list[BaseException] = []
        self.stop = False
        self.stored_share = 0.0  # of the last chunk's calls
        self.charged: dict[int, list[int]] = {}  # service id -> [new calls, haléře]
        self.tail = f"\t{now().isoformat()}\t{batch}\n"  # imported_at, import_batch
        self.texts: tuple[dict, dict, dict] = ({}, {}, {})  # of sources, destinations, costs

    def run(self, chunks, services: set[int], tariffs) -> dict[int, tuple[int, Decimal]]:
        s = self.session
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        raw = s.connection().connection.driver_connection
        handed: queue.Queue = queue.Queue(maxsize=2)
        worker = threading.Thread(target=self._work, args=(raw, handed), daemon=True)
        tariffs.lock = self.lock
        worker.start()
        try:
            for calls in chunks:
                handed.put(self._prepare(calls))
                if self.failure:
                    break
        except BaseException:
            self.stop = True  # a rejected file: the worker skips what is still queued
            raise
        finally:
            handed.put(None)
            worker.join()
            tariffs.lock = nullcontext()
        if self.failure:
            raise self.failure[0]
        if not services:
            return {}
        ensure_lines(s, services)
        charged = {sid: (calls, Decimal(cents).scaleb(-2))
                   for sid, (calls, cents) in sorted(self.charged.items()) if calls}
        if charged:
            # the lines' rows, as a top-up locks them (the charges are posted by import_cdr)
            s.execute(
                text(
                    "UPDATE voip_line SET updated_at = :moment "
                    "WHERE service_id = ANY(CAST(:sids AS integer[]))"
                ),
                {"moment": now(), "sids": list(charged)},
            )
        return charged

    def _prepare(self, calls: dict[str, tuple]) -> _Chunk:
        joined = "\t".join(calls)
        clean = (joined.count("\t") == len(calls) - 1 and "\\" not in joined
                 and "\n" not in joined and "\r" not in joined)
        if self.stored_share > LAZY_SHARE:
            return _Chunk(calls, clean, list(calls))
        return _Chunk(calls, clean, *self._format(calls.values(), clean))

    def _format(self, calls, clean: bool) -> tuple[list[str], list[str], dict[int, list[int]]]:
        """(uniqueids, COPY text lines, sums per service) of ``calls``, grouped by service."""
        sources, destinations, costs = self.texts
        tail = self.tail
        uniqueids: list[str] = []
        lines: list[str] = []
        sums: dict[int, list[int]] = {}
        for call in sorted(calls, key=_BY_SERVICE):
            uniqueid, sid, start, src, billsec, seconds, cents, number, dest, prefix, tariff = call
            # the fields in the order of CALL (and of COPY)
            uniqueids.append(uniqueid)
            source = sources.get(src)
            if source is None:
                source = copy_text(src)
                if len(sources) < CACHED:
                    sources[src] = source
            destination = destinations.get(dest)
            if destination is None:
                destination = copy_text(dest)
                if len(destinations) < CACHED:
                    destinations[dest] = destination
            cost = costs.get(cents)
            if cost is None:
                cost = f"{cents // 100}.{cents % 100:02d}"
                if len(costs) < CACHED:
                    costs[cents] = cost
            if not clean:
                uniqueid = copy_text(uniqueid)
            # start, number, prefix, ints: validated digits and separators
            lines.append(f"{uniqueid}\t{sid}\t{start}\t{source}\t{billsec}\t{seconds}\t{cost}\t"
                         f"{number}\t{destination}\t{prefix}\t{tariff}{tail}")
            entry = sums.get(sid)
            if entry is None:
                entry = sums[sid] = [0, 0]
            entry[0] += 1
            entry[1] += cents
        return uniqueids, lines, sums

    def _work(self, raw, handed: queue.Queue) -> None:
        while (chunk := handed.get()) is not None:
            if self.failure or self.stop:
                continue  # keep draining so that the parser never blocks
            try:
                with self.lock, raw.cursor() as cur:
                    lines = self._new_lines(cur, chunk)
                    if lines:
                        with cur.copy(COPY) as copy:
                            for i in range(0, len(lines), COPY_LINES):
                                copy.write("".join(lines[i:i + COPY_LINES]))
                for sid, (calls, cents) in chunk.sums.items():
                    entry = self.charged.get(sid)
                    if entry is None:
                        self.charged[sid] = [calls, cents]
                    else:
                        entry[0] += calls
                        entry[1] += cents
            except BaseException as exc:  # re-raised in the parsing thread
                self.failure.append(exc)

    def _new_lines(self, cur, chunk: _Chunk) -> list[str]:
        """The COPY lines of the chunk's calls not stored yet (``chunk.sums``: theirs)."""
        if chunk.clean:
            stored = cur.execute(STORED_TEXT, ("\t".join(chunk.uniqueids),)).fetchone()[0]
            stored = stored.split("\t") if stored else []
        else:
            stored = [u for (u,) in cur.execute(STORED_JSON, (json.dumps(chunk.uniqueids),))]
        self.stored_share = len(stored) / len(chunk.calls)
        calls = chunk.calls
        if chunk.lines is None:
            for uniqueid in stored:
                del calls[uniqueid]
            _, lines, chunk.sums = self._format(calls.values(), chunk.clean)
            return lines
        if not stored:
            return chunk.lines
        for uniqueid in stored:
            entry = chunk.sums[calls[uniqueid][1]]
            entry[0] -= 1
            entry[1] -= calls[uniqueid][6]
        skip = set(stored)
        return [line for uniqueid, line in zip(chunk.uniqueids, chunk.lines, strict=True)
                if uniqueid not in skip]

"""The CDR import's chunked pipeline (voip/cdr.py, voip/cdr_pg.py): texts that COPY must
escape, a uniqueid repeated across chunks, an overlapping file whose chunks are partly
stored, and the garbage collector switched back on. Run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import gc
import io
from decimal import Decimal as D

import pytest

from tests.voip.test_cdr import add_voip, calls, cdr, credit, day
from tests.voip.test_tariffs import load_sample_tariff
from voip.cdr import CdrFileError, import_cdr
from voip.cdr_pg import copy_text


@pytest.fixture
def line(session, make_customer):
    load_sample_tariff(session)
    return add_voip(session, make_customer(number="2001"), credit="100.00")


def test_copy_text_escapes_what_copy_reads_specially():
    assert copy_text("1700000000.12") == "1700000000.12"
    assert copy_text("a\tb\\c\nd\re") == "a\\tb\\\\c\\nd\\re"


def test_texts_with_tabs_backslashes_and_newlines_are_stored_exactly(session, line):
    odd = ["host\\a.1", "host\tb.2", "host\nc.3"]
    content = "".join(
        # src is not a number of ours: the caller is found by the accountcode; stored as written
        cdr(uid, "601234567\\ext", "777123456", day(0, f"10:0{i}:00"), 60,
            accountcode="+420601234567")
        for i, uid in enumerate(odd)
    ) + cdr("plain.4", "601234567", "777123456", day(0, "10:05:00"), 60)
    result = import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert (result.stored, result.duplicates, result.total_cost) == (4, 0, D("4.80"))
    stored = {c.cdr_uniqueid: c.source for c in calls(session)}
    assert stored == {"host\\a.1": "601234567\\ext", "host\tb.2": "601234567\\ext",
                      "host\nc.3": "601234567\\ext", "plain.4": "601234567"}
    again = import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert (again.stored, again.duplicates, again.total_cost) == (0, 4, D("0"))
    assert credit(session, line) == D("95.20")


def test_uniqueid_repeated_in_a_later_chunk_counts_once(session, line, monkeypatch):
    monkeypatch.setattr("voip.cdr.PG_CHUNK", 1)
    monkeypatch.setattr("voip.cdr.SQLITE_CHUNK", 1)
    content = (cdr("r1", "601234567", "777123456", day(0, "09:00:00"), 60)
               + cdr("r2", "601234567", "777123456", day(0, "09:01:00"), 120)
               + cdr("r1", "601234567", "777123456", day(0, "09:02:00"), 600))  # same id again
    result = import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert (result.stored, result.duplicates, result.total_cost) == (2, 1, D("3.60"))
    assert [(c.cdr_uniqueid, c.billsec) for c in calls(session)] == [("r1", 60), ("r2", 120)]
    assert credit(session, line) == D("96.40")


@pytest.mark.parametrize("lazy_share", [2.0, -1.0], ids=["text-made-by-parser", "text-made-by-writer"])
def test_overlapping_file_in_chunks(session, line, monkeypatch, lazy_share):
    # PostgreSQL: chunks of 4 calls, some stored already; the COPY text of a chunk is made
    # before the stored calls are known (then dropped) or after (LAZY_SHARE -1: always)
    monkeypatch.setattr("voip.cdr.PG_CHUNK", 4)
    monkeypatch.setattr("voip.cdr.SQLITE_CHUNK", 4)
    monkeypatch.setattr("voip.cdr_pg.LAZY_SHARE", lazy_share)
    old = [cdr(f"c{i}", "601234567", "777123456", day(0, f"08:0{i}:00"), 60) for i in range(1, 5)]
    new = [cdr(f"n{i}", "601234567", "212345678", day(1, f"08:0{i}:00"), 60 * i)
           for i in range(1, 5)]  # landline 0.495 per minute: 0.60, 1.20, 1.80, 2.40
    first = import_cdr(session, io.StringIO("".join(old)), actor="test")
    session.commit()
    assert (first.stored, first.total_cost) == (4, D("4.80"))
    content = "".join([old[0], old[1], old[2], new[0], old[3], new[1], new[2], new[3]])
    result = import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert (result.stored, result.duplicates, result.total_cost, result.charged_lines) == (
        4, 4, D("6.00"), 1)
    assert [(c.cdr_uniqueid, c.cost) for c in calls(session)] == [
        ("c1", D("1.20")), ("c2", D("1.20")), ("c3", D("1.20")), ("c4", D("1.20")),
        ("n1", D("0.60")), ("n2", D("1.20")), ("n3", D("1.80")), ("n4", D("2.40"))]
    assert credit(session, line) == D("89.20")


def test_garbage_collector_is_switched_back_on(session, line):
    assert gc.isenabled()
    import_cdr(session, io.StringIO(cdr("g1", "601234567", "777123456", day(), 60)),
               actor="test")
    assert gc.isenabled()
    with pytest.raises(CdrFileError):
        import_cdr(session, io.StringIO("garbage\n"), actor="test")
    assert gc.isenabled()


def test_database_error_in_the_writer_thread_changes_nothing(need, pg_url, session, line, monkeypatch):
    # PostgreSQL refuses NUL in text: the COPY of the second chunk fails in the writer
    # thread; the error reaches the caller and the first chunk is rolled back with the rest
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    monkeypatch.setattr("voip.cdr.PG_CHUNK", 1)
    content = (cdr("e1", "601234567", "777123456", day(0, "09:00:00"), 60)
               + cdr("e2", "6012\x00", "777123456", day(0, "09:01:00"), 60,
                     accountcode="+420601234567"))
    with pytest.raises(Exception, match="NUL|0x00"):
        import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert calls(session) == []
    assert credit(session, line) == D("100.00")

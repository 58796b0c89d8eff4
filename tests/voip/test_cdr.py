"""Importing Asterisk Master.csv: rating, once-only storage, credit, low-credit e-mail."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from billing.models import AuditEvent, Contract, Service
from core.clock import today
from tests.voip.test_tariffs import load_sample_tariff, tariff_text
from voip.cdr import CdrFileError, import_cdr
from voip.lines import open_line
from voip.models import CallRecord, VoipLine
from voip.tariff_import import import_tariff_csv

SAMPLES = Path(__file__).parent / "samples"
DAY = today() - timedelta(days=5)


def add_voip(session, customer, number="+420601234567", credit=None, threshold=None) -> Service:
    contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).first()
    service = Service(customer_id=customer.id, contract_id=contract.id, kind="voip",
                      name="VoIP", valid_from=date(2024, 1, 1), phone_number=number)
    session.add(service)
    session.flush()
    if credit is not None:
        open_line(session, service.id, D(credit), actor="test",
                  threshold=threshold and D(threshold))
    session.commit()
    return service


def cdr(uniqueid, src, dst, start, billsec, disposition="ANSWERED", accountcode="",
        columns=18) -> str:
    """One line as Asterisk cdr_csv writes it (strings quoted, numbers bare)."""
    answer = start if disposition == "ANSWERED" else ""  # Asterisk's own times, unchecked
    end = start
    fields = [f'"{accountcode}"', f'"{src}"', f'"{dst}"', '"from-customers"',
              f'"\\"Jana\\" <{src}>"', '"PJSIP/601234567-0000001"', '"PJSIP/trunk-0000002"',
              '"Dial"', f'"PJSIP/{dst}@trunk,60"', f'"{start}"', f'"{answer}"', f'"{end}"',
              str(int(billsec) + 5) if str(billsec).isdigit() else "5", str(billsec),
              f'"{disposition}"', '"DOCUMENTATION"', f'"{uniqueid}"']
    if columns >= 18:
        fields.append('""')
    if columns == 21:
        fields += ['""', f'"{uniqueid}"', "1"]
    return ",".join(fields) + "\n"


def day(offset_days=0, at="10:00:00") -> str:
    return f"{DAY + timedelta(days=offset_days)} {at}"


def calls(session):
    return session.scalars(select(CallRecord).order_by(CallRecord.cdr_uniqueid)).all()


def credit(session, service) -> D:
    session.expire_all()
    return session.get(VoipLine, service.id).credit


@pytest.fixture
def jana(session, make_customer):
    load_sample_tariff(session)
    return add_voip(session, make_customer(number="1001"), credit="500.00")


SAMPLE = "".join([
    cdr("1700.1", "601234567", "777123456", day(0, "10:00:00"), 90),  # mobile 60/1: 1.80
    cdr("1700.2", "+420601234567", "00491511234567", day(0, "11:00:00"), 61),  # DE mobile: 12.10
    cdr("1700.3", "601234567", "212345678", day(0, "12:00:00"), 0),  # 0 s: free
    cdr("1700.4", "601234567", "212345678", day(0, "12:05:00"), 0, "NO ANSWER"),
    cdr("1700.5", "601234567", "212345678", day(0, "12:06:00"), 0, "BUSY"),
    cdr("1700.6", "731000111", "601234567", day(0, "12:07:00"), 300),  # incoming: not ours
    cdr("1700.7", "1001", "0043123456789", day(0, "13:00:00"), 150,  # AT via the accountcode
        accountcode="+420601234567"),
])


def test_answered_calls_are_rated_stored_and_deducted(session, jana):
    result = import_cdr(session, io.StringIO(SAMPLE), actor="test")
    session.commit()
    assert (result.lines, result.answered, result.stored, result.duplicates) == (7, 4, 4, 0)
    assert (result.not_answered, result.unknown_callers, result.unrated_lines) == (2, 1, [])
    # 1.80 + 12.10 + 0 + 5.45 (AT 1.50/min 60/60: 3 min * 1.5 * 1.21)
    assert result.total_cost == D("19.35") and result.charged_lines == 1
    rows = {c.cdr_uniqueid: c for c in calls(session)}
    assert set(rows) == {"1700.1", "1700.2", "1700.3", "1700.7"}
    assert (rows["1700.1"].destination, rows["1700.1"].cost, rows["1700.1"].charged_seconds) == (
        "Česká republika – mobilní sítě", D("1.80"), 90)
    assert (rows["1700.2"].prefix, rows["1700.2"].cost, rows["1700.2"].charged_seconds) == (
        "4915", D("12.10"), 120)
    assert rows["1700.2"].destination_number == "+491511234567"
    assert (rows["1700.3"].cost, rows["1700.3"].charged_seconds) == (D("0.00"), 0)
    assert (rows["1700.7"].destination, rows["1700.7"].cost) == ("Rakousko", D("5.45"))
    assert all(c.service_id == jana.id for c in rows.values())
    assert credit(session, jana) == D("480.65")
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.cdr_imported")).one()
    assert '"stored": 4' in event.details and rows["1700.1"].import_batch == event.id


def test_reimport_changes_nothing(session, jana):
    import_cdr(session, io.StringIO(SAMPLE), actor="test")
    session.commit()
    before = [(c.cdr_uniqueid, c.cost, c.started_at) for c in calls(session)]
    again = import_cdr(session, io.StringIO(SAMPLE), actor="test")
    session.commit()
    assert (again.stored, again.duplicates, again.total_cost, again.charged_lines) == (0, 4, D("0"), 0)
    assert [(c.cdr_uniqueid, c.cost, c.started_at) for c in calls(session)] == before
    assert credit(session, jana) == D("480.65")
    # an overlapping file: only the new call is charged, and a repeat within one file once
    more = SAMPLE + cdr("1700.8", "601234567", "777123456", day(1), 60) * 2
    third = import_cdr(session, io.StringIO(more), actor="test")
    session.commit()
    assert (third.stored, third.duplicates, third.total_cost) == (1, 5, D("1.20"))
    assert credit(session, jana) == D("479.45")


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('"","601234567","777123456","ctx"\n', "line 3: 4 columns"),
        (cdr("x1", "601234567", "777123456", day(), 60, columns=17)[:-1].rsplit(",", 1)[0] + "\n",
         "line 3: 16 columns, expected 17, 18 or 21 (Asterisk cdr-csv) (write Master.csv with loguniqueid"),
        (cdr("x2", "601234567", "777123456", "2026-13-01 10:00:00", 60), "line 3: bad start time"),
        (cdr("x3", "601234567", "777123456", "22.11.2026 10:00", 60), "line 3: bad start time"),
        (cdr("x4", "601234567", "777123456", day(), "6O"), "line 3: bad billsec '6O' (whole seconds)"),
        (cdr("x5", "601234567", "777123456", day(), "-3"), "billsec '-3'"),
        (cdr("", "601234567", "777123456", day(), 60), "line 3: missing or too long uniqueid"),
        # PostgreSQL cannot store a NUL: named, not a database error
        (cdr("x6\0", "601234567", "777123456", day(), 60), "line 3: a NUL character in uniqueid"),
        (cdr("x7", "6012\x0034567", "777123456", day(), 60, accountcode="601234567"),
         "line 3: a NUL character in src"),
    ],
)
def test_malformed_line_rejects_the_file(session, jana, bad_line, message, monkeypatch):
    monkeypatch.setattr("voip.cdr.PG_CHUNK", 1)  # the lines before it are already inserted
    text = SAMPLE.splitlines(keepends=True)
    content = "".join(text[:2]) + bad_line + "".join(text[2:])
    with pytest.raises(CdrFileError) as info:
        import_cdr(session, io.StringIO(content), actor="test")
    assert message in str(info.value)
    session.commit()  # the caller's transaction is still usable and holds nothing of the file
    assert calls(session) == []
    assert credit(session, jana) == D("500.00")
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "voip.cdr_imported")) == 0


def test_unrated_calls_reject_the_file_unless_skipped(session, jana):
    content = SAMPLE + cdr("1700.9", "601234567", "+33123456789", day(), 60)  # France: no prefix
    with pytest.raises(CdrFileError, match=r"1 answered calls cannot be rated .* on lines 8;"):
        import_cdr(session, io.StringIO(content), actor="test")
    session.rollback()
    assert calls(session) == []
    result = import_cdr(session, io.StringIO(content), actor="test", skip_unrated=True)
    session.commit()
    assert (result.stored, result.unrated_lines, result.total_cost) == (4, [8], D("19.35"))
    assert "1 unrated calls skipped (lines 8)" in str(result)


def test_layouts_17_and_21_columns_and_new_line(session, make_customer):
    load_sample_tariff(session)
    service = add_voip(session, make_customer(number="1002"), number="+420602000111")
    content = (cdr("a1", "602000111", "777123456", day(), 60, columns=17)
               + cdr("a2", "602000111", "777123456", day(), 120, columns=21))
    result = import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert result.stored == 2
    # the line row is created; the calls are rated 3,60 Kč, but a line without credit is
    # charged at most one increment below zero (1 s at 0,99 Kč/min with VAT: 0,02 Kč; issue 15
    # item 9, voip/cdr.py:_cap_at_one_increment), the rest is waived
    assert sum(c.cost for c in calls(session)) == D("3.60")
    assert credit(session, service) == D("-0.02") and result.waived == D("3.58")


def test_call_is_rated_with_the_tariff_valid_at_its_start(session, jana, monkeypatch):
    # one COPY per call: the second tariff's index is loaded after a COPY has run
    monkeypatch.setattr("voip.cdr.PG_CHUNK", 1)
    # a cheaper tariff from DAY (midnight Prague time); the sample tariff before it
    import_tariff_csv(session, tariff_text("420;Česko;0,1000;0;1/1;21"), valid_from=DAY,
                      name="Levný", actor="test")
    session.commit()
    content = (cdr("t1", "601234567", "777123456", day(-1, "23:59:30"), 60)  # old tariff
               + cdr("t2", "601234567", "777123456", day(0, "00:00:30"), 60)  # new tariff
               + cdr("t3", "601234567", "777123456", day(0, "01:30:00"), 60))
    import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    rows = {c.cdr_uniqueid: c for c in calls(session)}
    assert (rows["t1"].cost, rows["t1"].prefix) == (D("1.20"), "4207")
    assert (rows["t2"].cost, rows["t2"].prefix) == (D("0.12"), "420")
    assert rows["t1"].tariff_id != rows["t2"].tariff_id == rows["t3"].tariff_id
    # Asterisk wrote Prague time; stored in UTC (winter: UTC+1, summer: UTC+2)
    local = datetime.fromisoformat(day(0, "00:00:30")).replace(tzinfo=ZoneInfo("Europe/Prague"))
    assert rows["t2"].started_at == local.astimezone(UTC)
    # in UTC that call started the evening before, yet the Prague day chose the tariff
    assert rows["t2"].started_at.date() == (DAY - timedelta(days=1))


def test_future_tariff_not_used_for_calls_before_its_day(session, jana):
    import_tariff_csv(session, tariff_text("420;Česko;0,1000;0;1/1;21"),
                      valid_from=today() + timedelta(days=1), actor="test")
    session.commit()
    import_cdr(session, io.StringIO(cdr("f1", "601234567", "777123456", day(), 60)), actor="test")
    assert calls(session)[0].cost == D("1.20")


def test_low_credit_flag_set_once(session, make_customer):
    load_sample_tariff(session)
    service = add_voip(session, make_customer(number="1003"), credit="30.00", threshold="20.00")
    first = import_cdr(session, io.StringIO(cdr("l1", "601234567", "777123456", day(), 300)),
                       actor="test")  # 5 min mobile = 5.99
    session.commit()
    assert first.low_credit == []
    second = import_cdr(session, io.StringIO(cdr("l2", "601234567", "777123456", day(), 600)),
                        actor="test")  # 11.98 -> 12.03 left
    session.commit()
    assert second.low_credit == [service.id]
    third = import_cdr(session, io.StringIO(cdr("l3", "601234567", "777123456", day(), 60)),
                       actor="test")
    session.commit()
    assert third.low_credit == []
    assert session.get(VoipLine, service.id).low_credit_notified is True


def test_cli_import_sends_one_low_credit_mail(app, session, make_customer, outbox, tmp_path):
    load_sample_tariff(session)
    add_voip(session, make_customer(number="1004", email="petr@example.cz", language="en"),
             credit="25.00", threshold="20.00")
    master = tmp_path / "Master.csv"
    master.write_text(SAMPLE, encoding="utf-8")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["voip", "cdr", "import", str(master)])
    assert first.exit_code == 0, first.output
    assert "4 new (19.35 Kč from 1 accounts)" in first.output
    assert "low-credit e-mails sent: 1 of 1" in first.output
    mails = outbox.messages()
    assert len(mails) == 1 and mails[0]["To"] == "petr@example.cz"
    assert mails[0]["Subject"] == "Low credit on your VoIP number +420 601 234 567"
    assert "CZK\u00a05.65" in mails[0].get_content() and "CZK\u00a020.00" in mails[0].get_content()

    again = runner.invoke(args=["voip", "cdr", "import", str(master)])
    assert again.exit_code == 0 and "4 already imported" in again.output
    master.write_text(cdr("z1", "601234567", "777123456", day(), 60), encoding="utf-8")
    assert runner.invoke(args=["voip", "cdr", "import", str(master)]).exit_code == 0
    assert len(outbox.messages()) == 1  # credit still low, but warned once

    master.write_text(SAMPLE + "garbage\n", encoding="utf-8")
    bad = runner.invoke(args=["voip", "cdr", "import", str(master)])
    assert bad.exit_code != 0 and "line 8: 1 columns" in bad.output
    assert "nothing was imported" in bad.output


def test_czech_low_credit_mail(app, session, make_customer, outbox, tmp_path):
    load_sample_tariff(session)
    add_voip(session, make_customer(number="1005", language="cs"), credit="20.00",
             threshold="19.00")
    master = tmp_path / "Master.csv"
    master.write_text(cdr("c1", "601234567", "777123456", day(), 60), encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["voip", "cdr", "import", str(master)]).exit_code == 0
    (mail,) = outbox.messages()
    assert mail["Subject"] == "Nízký kredit na vašem VoIP čísle +420 601 234 567"
    assert "18,80\u00a0Kč" in mail.get_content()


def test_timezone_setting_utc(session, jana):
    import_cdr(session, io.StringIO(cdr("u1", "601234567", "777123456", day(0, "23:30:00"), 60)),
               actor="test", timezone="UTC")
    session.commit()
    (call,) = calls(session)
    assert call.started_at == datetime.fromisoformat(day(0, "23:30:00")).replace(tzinfo=UTC)


def test_concurrent_imports_of_one_file_charge_once(need, pg_url, engine, session, jana):
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    import threading

    from core.db import make_session_factory

    factory = make_session_factory(engine)
    results, errors = [], []
    barrier = threading.Barrier(3)

    def run():
        with factory() as s:
            barrier.wait()
            try:
                results.append(import_cdr(s, io.StringIO(SAMPLE), actor="test"))
                s.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(r.stored for r in results) == [0, 0, 4]
    assert len(calls(session)) == 4
    assert credit(session, jana) == D("480.65")


def test_unreadable_csv_line_is_rejected(session, jana):
    content = SAMPLE + '"x","601234567\0","777"\n'
    with pytest.raises(CdrFileError, match="line 8: "):
        import_cdr(session, io.StringIO(content), actor="test")
    session.commit()
    assert calls(session) == []


def test_an_emergency_call_is_free_whatever_prefix_prices_it(session, make_customer):
    """155 dialled alone is +420 155: a price list with a catch-all 420 prefix matches it
    as a fixed line, but an emergency call is never charged (112, 150, 155, 156, 158)."""
    import_tariff_csv(session, io.StringIO(
        "prefix;destination;price_per_minute;connect_fee;increments;vat_rate\n"
        "420;Česko;0,4000;0;60/1;21\n"), valid_from=DAY - timedelta(days=30), name="T",
        actor="test")
    line = add_voip(session, make_customer(number="1001"), credit="10.00")
    result = import_cdr(session, io.StringIO("".join([
        cdr("1800.1", "601234567", "155", day(0, "10:00:00"), 300),
        cdr("1800.2", "601234567", "+420112", day(0, "10:10:00"), 61),
        cdr("1800.3", "601234567", "212345678", day(0, "10:20:00"), 60),  # 0,48 Kč
    ])), actor="test")
    session.commit()
    rows = {c.cdr_uniqueid: c for c in calls(session)}
    assert (rows["1800.1"].cost, rows["1800.1"].charged_seconds) == (D("0.00"), 300)
    assert (rows["1800.2"].cost, rows["1800.2"].charged_seconds) == (D("0.00"), 61)
    assert rows["1800.3"].cost == D("0.48")
    assert result.total_cost == D("0.48") and credit(session, line) == D("9.52")

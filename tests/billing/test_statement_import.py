"""Importing statements into the database: once per movement, all or nothing, paired."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.bank.importing import StatementError, import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger.balances import customer_invoices
from billing.models import Allocation, AuditEvent, BankTransaction, LedgerEntry, StatementImport
from core.clock import today
from core.db import make_engine, make_session_factory

D = Decimal
ACCOUNT = "2001234567/2010"


def tx(n: int, amount: str, vs=None, ss=None, days_ago=1) -> ParsedTransaction:
    return ParsedTransaction(
        bank_tx_id=str(1000 + n),
        booked_on=today() - timedelta(days=days_ago),
        amount=D(amount),
        currency="CZK",
        variable_symbol=vs,
        specific_symbol=ss,
        constant_symbol=None,
        counter_account="123456789/0800",
        counter_name="Jan Novák",
        message=None,
        line=0,
    )


def gpc(*txs) -> bytes:
    return render_gpc(ParsedStatement("gpc", ACCOUNT, list(txs), D("10000.00")))


@pytest.fixture
def billed(session, make_customer, supplier):
    customers = [make_customer(number=str(5001 + i)) for i in range(3)]
    issued = today() - timedelta(days=30)
    invoices = [
        issue_invoice(
            session, c, [LineInput("Internet", D(1), D("450.00"))], supplier,
            IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)),
        )
        for c in customers
    ]
    session.commit()
    return customers, invoices


def snapshot(session):
    session.rollback()  # end the read snapshot to see the app's commits
    return (
        session.scalar(select(func.count(BankTransaction.id))),
        session.scalar(select(func.count(Allocation.id))),
        session.scalar(select(func.count(LedgerEntry.id))),
        tuple(session.scalars(select(LedgerEntry.amount).order_by(LedgerEntry.id))),
    )


@pytest.fixture(params=["small", "big"])
def batch_path(request, monkeypatch):
    """Both ways a statement is stored and paired: as a small one, and (BIG_BATCH lowered)
    as a big one (on PostgreSQL: planned for big temporary tables)."""
    if request.param == "big":
        from billing.bank import importing as statement_import
        from billing.bank import pairing_pg

        monkeypatch.setattr(statement_import, "BIG_BATCH", 2)
        monkeypatch.setattr(pairing_pg, "BIG_BATCH", 2)
    return request.param


def test_statement_pays_invoices_and_reimport_changes_nothing(session, billed, batch_path):
    customers, invoices = billed
    data = gpc(
        tx(1, "450.00", vs="5001"),
        tx(2, "450.00", vs="77", ss=invoices[1].specific_symbol),
        tx(3, "100.00", vs="99999"),
        tx(4, "-1200.00"),
    )
    report = import_statement(session, data, "vypis.gpc")
    session.commit()
    assert (report.new, report.matched, report.unmatched, report.outgoing) == (4, 2, 1, 1)
    states = {s.invoice.customer_id: s.status for c in customers for s in customer_invoices(session, c.id, today())}
    assert states == {customers[0].id: "paid", customers[1].id: "paid", customers[2].id: "overdue"}
    matched = session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "payment.matched"))
    assert matched == 2
    before = snapshot(session)
    again = import_statement(session, data, "vypis.gpc")
    session.commit()
    assert (again.new, again.duplicates) == (0, 4)
    assert snapshot(session) == before


def test_a_payment_in_another_currency_waits_for_an_operator(session, billed, batch_path):
    """A EUR movement (a EUR account listed in BANK_ACCOUNTS) carrying a customer's VS or an
    invoice's SS pays nothing: 450 EUR are not 450 Kč. It waits in the unmatched queue."""
    from billing.bank.queue import unmatched
    from billing.ledger import postings as ledger

    customers, invoices = billed
    by_vs = replace(tx(1, "450.00", vs="5001"), currency="EUR")
    by_ss = replace(tx(2, "450.00", vs="77", ss=invoices[1].specific_symbol), currency="EUR")
    report = import_statement(session, gpc(by_vs, by_ss, tx(3, "450.00", vs="5003")), "eur.gpc")
    session.commit()
    assert (report.new, report.matched, report.unmatched) == (3, 1, 2)
    states = {s.invoice.customer_id: s.status for c in customers for s in customer_invoices(session, c.id, today())}
    assert states == {customers[0].id: "overdue", customers[1].id: "overdue", customers[2].id: "paid"}
    assert [ledger.balance(session, c.id) for c in customers] == [D("-450.00"), D("-450.00"), D("0.00")]
    assert [(t.bank_tx_id, t.currency, t.customer_id) for t in unmatched(session)] == [
        ("1001", "EUR", None), ("1002", "EUR", None)]


def test_overlapping_statements_store_each_movement_once(session, billed):
    first = gpc(tx(1, "200.00", vs="5001"), tx(2, "200.00", vs="5002"))
    second = gpc(tx(2, "200.00", vs="5002"), tx(3, "250.00", vs="5001"))
    import_statement(session, first, "a.gpc")
    report = import_statement(session, second, "b.gpc")
    session.commit()
    assert (report.new, report.duplicates) == (1, 1)
    assert session.scalar(select(func.count(BankTransaction.id))) == 3
    assert session.scalar(select(func.count(StatementImport.id))) == 2


def money_state(session, customers, invoices):
    """What the customers see: balance per customer, paid per invoice, stored movements."""
    from billing.ledger import postings as ledger
    from billing.ledger.balances import paid_amounts

    session.rollback()
    return (
        [ledger.balance(session, c.id) for c in customers],
        paid_amounts(session, [i.id for i in invoices]),
        sorted(session.scalars(select(BankTransaction.bank_tx_id))),
    )


def test_overlapping_statements_end_with_the_ledger_of_one_import(session, billed):
    """Two overlapping exports (and the first again) leave what importing their union once
    would: each movement stored, booked and allocated once."""
    customers, invoices = billed
    first = gpc(tx(1, "200.00", vs="5001"), tx(2, "450.00", vs="5002"), tx(3, "500.00", vs="5003"))
    second = gpc(tx(2, "450.00", vs="5002"), tx(3, "500.00", vs="5003"), tx(4, "300.00", vs="5001"))
    for data in (first, second, first):
        import_statement(session, data, "part.gpc")
        session.commit()
    balances, paid, stored = money_state(session, customers, invoices)
    assert balances == [D("50.00"), D("0.00"), D("50.00")]  # 5001: 200 + 300 - 450
    assert paid == {i.id: D("450.00") for i in invoices}
    assert stored == ["1001", "1002", "1003", "1004"]
    payments = select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == "payment")
    assert session.scalar(payments) == 4


def test_bad_file_changes_nothing(session, billed):
    good = gpc(tx(1, "450.00", vs="5001"), tx(2, "450.00", vs="5002"))
    lines = good.split(b"\r\n")
    lines[2] = lines[2][:48] + b"00000000x000" + lines[2][60:]  # amount not numeric
    before = snapshot(session)
    with pytest.raises(StatementError) as err:
        import_statement(session, b"\r\n".join(lines), "bad.gpc")
    session.rollback()
    assert err.value.line == 3
    assert snapshot(session) == before


def import_at_once(database_url: str, files: list[bytes]) -> list:
    """Import each file in a session and thread of its own, all released at once; returns
    the reports (the test fails on any error)."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(len(files))
    reports, errors = [], []

    def worker(data):
        s = factory()
        try:
            barrier.wait()
            reports.append(import_statement(s, data, "part.gpc"))
            s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            s.rollback()
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(data,)) for data in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert not errors
    return reports


def stored_counts(database_url: str) -> tuple[int, int]:
    """Stored movements and payment ledger entries, as a new connection sees them."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as s:
        counts = (s.scalar(select(func.count(BankTransaction.id))),
                  s.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == "payment")))
    engine.dispose()
    return counts


def test_concurrent_imports_of_one_file_on_postgresql(need, pg_url, database_url, billed):
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    data = gpc(*[tx(i, "150.00", vs=str(5001 + i % 3)) for i in range(30)])
    reports = import_at_once(database_url, [data, data])
    assert sorted(r.new for r in reports) == [0, 30]
    assert stored_counts(database_url) == (30, 30)


SAMPLES = __import__("pathlib").Path(__file__).parent / "samples"


@pytest.mark.parametrize("sample", ["statement_2026-11.gpc", "fio_2026-11.json",
                                    "fio_2026-11.csv", "camt053_2026-11.xml"])
def test_a_statement_of_someone_elses_account_is_refused(app, session, sample):
    """`payments import` takes only statements of our accounts (BANK_ACCOUNTS, default the
    supplier's): another account's payments are not ours to pair. The samples are all of
    2001234567/2010 (a GPC without its bank code, an IBAN in camt.053)."""
    runner = app.test_cli_runner()
    path = str(SAMPLES / sample)
    app.config["BANK_ACCOUNTS"] = "2001234588/2010, 19-2000145399/0800"
    refused = runner.invoke(args=["payments", "import", path])
    assert refused.exit_code != 0
    assert "is of account 2001234567" in refused.output and "not one of ours" in refused.output
    assert "nothing was imported" in refused.output
    assert session.scalar(select(func.count()).select_from(BankTransaction)) == 0

    app.config["BANK_ACCOUNTS"] = "CZ47 2010 0000 0020 0123 4567"  # the same account as IBAN
    accepted = runner.invoke(args=["payments", "import", path])
    assert accepted.exit_code == 0, accepted.output
    session.rollback()  # end the read snapshot: see what the command committed
    stored = session.scalars(select(StatementImport.account)).all()
    assert stored == ["2001234567/2010"]  # one key whichever format, bank code completed


def test_any_account_overrides_the_check(app, session):
    result = app.test_cli_runner().invoke(
        args=["payments", "import", "--any-account", str(SAMPLES / "fio_2026-11.json")])
    assert result.exit_code == 0, result.output


# A NUL character (U+0000) cannot be stored in a PostgreSQL text column: each format refuses
# it naming the line (and the field), like any other bad input, instead of a database error.
# (sample, text in it, the text with a NUL, the message after "<file>: ")
NUL_CASES = {
    "gpc raw byte": (
        "statement_2026-11.gpc", "Jan Novák".encode("cp1250"), "Jan\x00Novák".encode("cp1250"),
        "line 2: counter-party name contains a NUL character (U+0000) at position 101"),
    "fio-json escape": (
        "fio_2026-11.json", '"Jan Novák"'.encode(), '"Jan\\u0000Novák"'.encode(),
        "line 21: column10 (Název protiúčtu) contains a NUL character (U+0000)"),
    "fio-csv raw byte": (
        "fio_2026-11.csv", '"Novák, Jan"'.encode(), '"Novák,\x00Jan"'.encode(),
        "line 14: column 6 (Název protiúčtu) contains a NUL character (U+0000)"),
    "camt053 reference": (
        "camt053_2026-11.xml", b"<Nm>Jan", b"<Nm>Jan&#0;",
        "line 110: malformed XML: a NUL character (U+0000) is not allowed in XML"),
    "camt053 raw byte": (
        "camt053_2026-11.xml", b"<Nm>Jan", b"<Nm>Jan\x00",
        "line 110: malformed XML: a NUL character (U+0000) is not allowed in XML"),
}


# A fraction of a haléř: the money columns would refuse it only when the row is written, as
# a database error without a line number (a traceback from `payments import`).
FRACTION_CASES = {
    "fio-json": ("fio_2026-11.json", b'"value": 799.0,', b'"value": 799.005,',
                 "line 21: amount 799.005 has more than two decimal places"),
    "fio-csv": ("fio_2026-11.csv", b";799,00;", b";799,001;",
                "line 14: amount 799.001 has more than two decimal places"),
    "camt053": ("camt053_2026-11.xml", b'<Amt Ccy="CZK">799.00</Amt>',
                b'<Amt Ccy="CZK">799.009</Amt>',
                "line 74: amount 799.009 has more than two decimal places"),
}


BAD_VALUE_CASES = {**{f"NUL {k}": v for k, v in NUL_CASES.items()},
                   **{f"fraction {k}": v for k, v in FRACTION_CASES.items()}}


@pytest.mark.parametrize("case", sorted(BAD_VALUE_CASES))
def test_a_bad_value_is_refused_with_its_line_and_nothing_is_imported(app, session, tmp_path,
                                                                      case):
    sample, old, new, message = BAD_VALUE_CASES[case]
    data = (SAMPLES / sample).read_bytes()
    assert old in data
    path = tmp_path / sample
    path.write_bytes(data.replace(old, new, 1))
    result = app.test_cli_runner().invoke(args=["payments", "import", "--any-account", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"Error: {path}: {message} (nothing was imported)" in result.output
    for table in (BankTransaction, StatementImport, AuditEvent, LedgerEntry):
        assert session.scalar(select(func.count()).select_from(table)) == 0


def test_concurrent_overlapping_imports_on_postgresql(need, pg_url, database_url, session, billed):
    """Two processes importing overlapping exports at once: each movement once, and the
    same balances and allocations as one import of both."""
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    customers, invoices = billed
    files = [
        gpc(tx(1, "200.00", vs="5001"), tx(2, "450.00", vs="5002"), tx(3, "500.00", vs="5003")),
        gpc(tx(2, "450.00", vs="5002"), tx(3, "500.00", vs="5003"), tx(4, "300.00", vs="5001")),
    ]
    import_at_once(database_url, files)
    balances, paid, stored = money_state(session, customers, invoices)
    assert balances == [D("50.00"), D("0.00"), D("50.00")]
    assert paid == {i.id: D("450.00") for i in invoices}
    assert stored == ["1001", "1002", "1003", "1004"]

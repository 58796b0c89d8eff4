"""The console's statement upload as a job (docs/bank-statements.md, "Upload in the
console"), as an operator of role billing uses it: the form checks the file at once (a broken
one is refused with its line number and nothing is stored), queues the import and shows its
progress page, which ends with the summary (paired, unmatched with a link to the queue,
already imported). GPC and camt.053 of the same payments give the same summary; the same file
twice is reported as already imported and books nothing twice; the job is run by the web
app's thread (STATEMENT_UPLOAD_WORKERS=inline) or by ``ispzone jobs worker`` (external). On
SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from billing.ledger import postings as ledger
from billing.models import AuditEvent, BankTransaction, StatementImport, StatementUpload
from console.views_upload import join_worker
from core.clock import today
from core.jobs import Job
from tests.console.test_money_pages import czech, gpc, owe

IBAN = "CZ6220100000002001234588"  # 2001234588/2010, the supplier's account in the tests

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><IBAN>{iban}</IBAN></Id></Acct>
{entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
NTRY = """      <Ntry>
        <Amt Ccy="CZK">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
        <NtryDtls><TxDtls><RmtInf><Strd><CdtrRefInf>
          <Tp><CdOrPrtry><Prtry>VS</Prtry></CdOrPrtry></Tp><Ref>{vs}</Ref>
        </CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls>
      </Ntry>"""


def camt(payments) -> bytes:
    entries = "\n".join(NTRY.format(amount=amount, day=on.isoformat(), ref=f"C{n}", vs=vs)
                        for n, (vs, amount, on) in enumerate(payments, 1))
    return CAMT.format(iban=IBAN, entries=entries).encode()


def upload(client, data: bytes, name: str, fmt: str = ""):
    return client.post("/console/payments/upload", data={
        "statement": (io.BytesIO(data), name), "format": fmt},
        content_type="multipart/form-data")


def upload_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.search(r"/console/payments/upload/(\d+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def summary(page: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]*)</dd>", page))


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("fmt", ["gpc", "camt053"])
def test_gpc_and_camt_of_the_same_payments_give_the_same_summary(
        app, console_client, session, make_customer, supplier, fmt):
    payer = make_customer(number="6604")
    owe(session, supplier, payer, "450.00")
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    payments = [("6604", "450.00", on), ("99999", "300.00", on), ("88888", "120.00", on)]
    data = gpc(payments) if fmt == "gpc" else camt(payments)

    first = upload_id(upload(billing, data, f"vypis.{fmt}"))
    join_worker(app)  # the web app's thread (STATEMENT_UPLOAD_WORKERS=inline, the default)
    page = billing.get(f"/console/payments/upload/{first}").get_data(as_text=True)
    assert f"vypis.{fmt}" in page and "hotovo" in page
    assert 'http-equiv="refresh"' not in page  # finished: no more refreshing
    figures = summary(page)
    assert {k: figures[k] for k in ("Pohybů v souboru", "Spárováno", "Nespárováno",
                                    "Již dříve naimportováno")} == {
        "Pohybů v souboru": "3", "Spárováno": "1", "Nespárováno": "2",
        "Již dříve naimportováno": "0"}
    assert "/console/payments/unmatched" in page  # the link to the queue
    status = billing.get(f"/console/payments/upload/{first}/status.json").get_json()
    assert (status["phase"], status["finished"], status["format"]) == ("done", True, fmt)
    assert (status["matched"], status["unmatched"], status["duplicates"]) == (1, 2, 0)
    assert ledger.balance(session, payer.id) == 0  # the invoice is paid: nothing owed

    # the same file again: checked, queued, imported: every movement already there
    again = upload_id(upload(billing, data, f"znovu.{fmt}"))
    join_worker(app)
    status = billing.get(f"/console/payments/upload/{again}/status.json").get_json()
    assert (status["phase"], status["matched"], status["unmatched"], status["duplicates"]) \
        == ("done", 0, 0, 3)
    assert "<dt>Již dříve naimportováno</dt><dd class=\"num\">3</dd>" in billing.get(
        f"/console/payments/upload/{again}").get_data(as_text=True)
    assert count(session, BankTransaction) == 3
    assert ledger.balance(session, payer.id) == 0  # not paid twice

    # both uploads and both imports name the operator; the stored files are emptied
    actor = f"operator:{billing.operator.login}"
    for action in ("statement.uploaded", "statement.imported"):
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        assert [e.actor for e in events] == [actor, actor], action
    assert [u.content for u in session.scalars(select(StatementUpload))] == [None, None]
    # the upload page lists them with their state
    listing = billing.get("/console/payments/upload").get_data(as_text=True)
    assert f"vypis.{fmt}" in listing and f"znovu.{fmt}" in listing


def test_a_broken_file_is_refused_at_once_and_nothing_is_stored(
        app, console_client, session):
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    data = gpc([("6604", "450.00", on), ("99999", "300.00", on)])
    broken = data.replace(b"\r\n075", b"\r\n07X", 1)
    response = upload(billing, broken, "zly.gpc", "gpc")
    assert response.status_code == 422
    assert "řádek 2: " in response.get_data(as_text=True)
    response = upload(billing, camt([("1", "1.00", on)]).replace(b"</Stmt>", b"</Stm>"),
                      "zly.xml")
    assert response.status_code == 422 and "řádek " in response.get_data(as_text=True)
    # another bank's account: refused too
    response = upload(billing, gpc([("1", "1.00", on)], "19-123457/0100"), "cizi.gpc")
    assert response.status_code == 422 and "který není náš" in response.get_data(as_text=True)
    for model in (StatementUpload, Job, BankTransaction, StatementImport):
        assert count(session, model) == 0, model
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action.like("statement.%"))) == 0


def test_external_workers_run_the_job_and_the_page_follows(
        app, console_client, session, make_customer, supplier):
    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    payer = make_customer(number="6610")
    owe(session, supplier, payer, "300.00")
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    first = upload_id(upload(billing, gpc([("6610", "300.00", on), ("1234", "50.00", on)]),
                             "listopad.gpc"))
    page = billing.get(f"/console/payments/upload/{first}").get_data(as_text=True)
    assert "ve frontě" in page and 'http-equiv="refresh"' in page
    assert "ispzone jobs worker" in page
    assert billing.get(f"/console/payments/upload/{first}/status.json").get_json()["phase"] \
        == "queued"
    assert count(session, BankTransaction) == 0  # nothing imported in the request

    result = app.test_cli_runner().invoke(args=["jobs", "worker", "--until-idle", "--poll", "0.1"])
    assert result.exit_code == 0, result.output
    assert "1 statement uploads imported" in result.output
    page = billing.get(f"/console/payments/upload/{first}").get_data(as_text=True)
    figures = summary(page)
    assert (figures["Spárováno"], figures["Nespárováno"]) == ("1", "1")
    session.rollback()
    job = session.scalar(select(Job).where(Job.key == f"statement_upload:{first}"))
    assert (job.state, job.step, job.attempts) == ("done", "done", 1)
    assert json.loads(job.progress)["matched"] == 1


def test_a_refusal_in_the_job_fails_it_with_the_line_number(app, console_client, session):
    """The file changed between the check and the import (here: by hand in the database):
    the importer's refusal fails the job at once, shown in the reader's language."""
    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    data = gpc([("1", "10.00", on), ("2", "20.00", on)])
    first = upload_id(upload(billing, data, "a.gpc"))
    session.execute(update(StatementUpload).values(
        content=data.replace(b"\r\n075", b"\r\n07X", 1)))
    session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "worker", "--until-idle"])
    assert result.exit_code == 0, result.output
    page = billing.get(f"/console/payments/upload/{first}").get_data(as_text=True)
    assert "selhalo" in page and "řádek 2: " in page and "Nic nebylo naimportováno" in page
    status = billing.get(f"/console/payments/upload/{first}/status.json").get_json()
    assert status["phase"] == "failed" and status["error"].startswith("line 2: ")
    assert count(session, BankTransaction) == 0
    # the refusal is final: the statement's bytes are not kept in the database for nothing
    session.expire_all()
    (stored,) = session.scalars(select(StatementUpload)).all()
    assert stored.content is None and stored.size == len(data)


def test_readers_see_the_progress_but_may_not_upload(app, console_client, session):
    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    billing = console_client("billing")
    on = today() - timedelta(days=1)
    first = upload_id(upload(billing, gpc([("1", "10.00", on)]), "a.gpc"))
    reader = console_client("readonly")
    assert reader.get(f"/console/payments/upload/{first}").status_code == 200
    assert reader.get(f"/console/payments/upload/{first}/status.json").status_code == 200
    assert reader.get("/console/payments/upload/999999").status_code == 404
    assert upload(reader, gpc([("1", "10.00", on)]), "b.gpc").status_code == 403
    assert count(session, StatementUpload) == 1


def test_the_phases_are_committed_as_the_job_goes(app, console_client, session, monkeypatch):
    """What the page sees from another connection while the job runs: ``parsing`` once it is
    taken, ``pairing`` with the movements counted before the import writes, then ``done``."""
    from billing.bank import upload_jobs

    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    billing = console_client("billing")
    on = today() - timedelta(days=1)
    first = upload_id(upload(billing, gpc([("1", "10.00", on), ("2", "20.00", on)]), "a.gpc"))
    sessions = app.extensions["ispzone.sessions"]
    seen = []

    def look() -> None:
        with sessions() as other:
            status = upload_jobs.upload_status(other, first)
            seen.append((status.phase, status.counters.get("total")))

    real = upload_jobs.import_statement

    def importer(*args, on_parsed, **kwargs):
        look()

        def parsed(statement):
            on_parsed(statement)
            look()

        return real(*args, on_parsed=parsed, **kwargs)

    monkeypatch.setattr(upload_jobs, "import_statement", importer)
    assert upload_jobs.work(sessions, "test:1:a", until_idle=True) == 1
    look()
    assert seen == [("parsing", None), ("pairing", 2), ("done", 2)]


class TestOnSQLite:
    """SQLite's database-wide write lock: SQLite also when the suite runs on PostgreSQL."""

    @pytest.fixture
    def database_url(self, sqlite_database_url):
        return sqlite_database_url

    def test_the_polled_page_does_not_wait_for_sqlites_write_lock(
            self, app, console_client, session, database_url):
        """On SQLite the import holds the one write lock until it commits: the page polled
        meanwhile answers at once (it leaves the login's last-seen touch to the next page)."""
        import sqlite3
        import time

        from billing.models import OperatorSession
        from core.clock import now

        app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
        billing = console_client("billing")
        first = upload_id(upload(billing, gpc([("1", "10.00", today())]), "a.gpc"))
        session.execute(update(OperatorSession).values(last_seen_at=now() - timedelta(minutes=5)))
        session.commit()
        holder = sqlite3.connect(database_url[len("sqlite:///"):], timeout=0)
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")  # what a running import holds
        try:
            started = time.monotonic()
            for url in (f"/console/payments/upload/{first}",
                        f"/console/payments/upload/{first}/status.json"):
                assert billing.get(url).status_code == 200, url
            assert time.monotonic() - started < 10  # the busy timeout is 30 s
        finally:
            holder.execute("ROLLBACK")
            holder.close()


def test_a_job_whose_worker_died_is_taken_over_when_its_page_is_read(
        app, console_client, session):
    """STATEMENT_UPLOAD_WORKERS=inline: the web app's process that ran the import died (its
    lease names a process that no longer exists); the next look at the page takes it over."""
    import socket

    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    first = upload_id(upload(billing, gpc([("1", "10.00", on), ("2", "20.00", on)]), "a.gpc"))
    from core.clock import now

    session.execute(update(Job).values(
        state="running", step="pairing", attempts=1, lease_until=now() + timedelta(minutes=30),
        locked_by=f"{socket.gethostname()[:60]}:999999999:deadbeef"))
    session.commit()
    app.config["STATEMENT_UPLOAD_WORKERS"] = "inline"
    assert "import a párování" in billing.get(f"/console/payments/upload/{first}").get_data(
        as_text=True)
    join_worker(app)
    status = billing.get(f"/console/payments/upload/{first}/status.json").get_json()
    assert (status["phase"], status["attempts"], status["unmatched"]) == ("done", 2, 2)


def test_counts_over_a_thousand_are_grouped_as_czech_readers_write_them(
        app, console_client, session):
    """The flash after an upload of 1,200 movements, and the unmatched queue's pager, print
    their counts as the reader's language writes them: ``1 200`` (a no-break space) in Czech,
    ``1,200`` in English."""
    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"  # the flash, not the import, is tested
    on = today() - timedelta(days=1)
    data = gpc([(str(900000 + n), "10.00", on) for n in range(1200)])
    billing = czech(console_client("billing"))
    page = billing.post("/console/payments/upload", data={
        "statement": (io.BytesIO(data), "velky.gpc"), "format": ""},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "zkontrolováno pohybů: 1\u00a0200;" in page
    billing.post("/language", data={"lang": "en"})
    page = billing.post("/console/payments/upload", data={
        "statement": (io.BytesIO(data), "again.gpc"), "format": ""},
        content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "again.gpc: 1,200 movements checked" in page


def test_the_same_file_uploaded_twice_and_imported_at_once_by_two_workers(
        app, console_client, session, make_customer, supplier, monkeypatch, pg_url, need):
    """Two workers import two uploads of one file at the same moment (a barrier holds each
    import until the other has reached it too): one pairs the payments, the other finds
    them imported (duplicates); neither job fails or waits for a retry, nothing is booked
    twice. PostgreSQL: SQLite has one writer at a time, so its workers never import at once."""
    need(pg_url, "TEST_DATABASE_URL (PostgreSQL) is not set")
    import threading

    from billing.bank import upload_jobs

    app.config["STATEMENT_UPLOAD_WORKERS"] = "external"
    on = today() - timedelta(days=1)
    payments = []
    for n in range(40):
        payer = make_customer(number=str(6700 + n))
        owe(session, supplier, payer, "300.00")
        payments.append((str(6700 + n), "300.00", on))
    data = gpc(payments)
    billing = console_client("billing")
    first = upload_id(upload(billing, data, "a.gpc"))
    second = upload_id(upload(billing, data, "b.gpc"))

    barrier = threading.Barrier(2, timeout=30)
    real_import = upload_jobs.import_statement

    def together(*args, **kwargs):
        barrier.wait()
        return real_import(*args, **kwargs)

    monkeypatch.setattr(upload_jobs, "import_statement", together)
    sessions = app.extensions["ispzone.sessions"]
    errors = []

    def worker(name):
        try:
            with app.app_context():
                upload_jobs.work(sessions, name, until_idle=True, poll=0.05)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    session.rollback()
    jobs_ = {j.key: j for j in session.scalars(select(Job).where(Job.kind == "statement_upload"))}
    states = {key: (j.state, j.attempts, j.error) for key, j in jobs_.items()}
    assert states == {f"statement_upload:{first}": ("done", 1, None),
                      f"statement_upload:{second}": ("done", 1, None)}, states
    figures = sorted((json.loads(j.progress)["matched"], json.loads(j.progress)["duplicates"])
                     for j in jobs_.values())
    assert figures == [(0, 40), (40, 0)]
    assert count(session, BankTransaction) == 40

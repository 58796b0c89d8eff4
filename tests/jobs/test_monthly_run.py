"""The monthly run as jobs (billing.invoicing.monthly_run, docs/monthly-run.md): killed at
any point and started again, every customer ends with one invoice and one e-mail (counted at
a real SMTP server on loopback), the ledger balanced; workers take disjoint chunks."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, make_url, select, text

from billing.bank.importing import import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.monthly_run import (
    WorkContext,
    plan,
    run_key,
    run_status,
    work,
)
from billing.models import (
    Allocation,
    AuditEvent,
    Contract,
    CreditServiceSettings,
    Customer,
    Invoice,
    InvoiceMail,
    LedgerLeg,
    LedgerTransaction,
    Service,
)
from core import jobs
from core.db import Base, make_engine

MONTH = "2026-11"
ON = date(2026, 11, 1)
POINTS = ("after_plan", "before_issue", "before_commit", "after_issue_chunk", "after_render",
          "after_smtp_accept", "after_mail_commit")


def populate(session, n: int = 8) -> dict:
    """``n`` customers with a monthly service (some prorated, one ended before the month,
    two without an e-mail address, one who switched invoice e-mails off) and a payment of
    200 CZK from customer 3 before the run (their invoice is settled from it)."""
    expect = {"invoiced": set(), "mailed": {}}
    for i in range(1, n + 1):
        number = f"77{i:02d}"
        email = None if i % 4 == 1 else f"c{i}@example.cz"
        customer = Customer(customer_number=number, name=f"Zákazník {i}", email=email,
                            street="Husova 5", city="Kolín", postal_code="280 02")
        session.add(customer)
        session.flush()
        contract = Contract(customer_id=customer.id, number=number, signed_on=date(2024, 1, 1))
        session.add(contract)
        session.flush()
        valid_from = date(2026, 11, 16) if i % 3 == 2 else date(2025, 1, 1)
        valid_to = date(2026, 10, 31) if i == 6 else None
        session.add(Service(customer_id=customer.id, contract_id=contract.id, kind="internet",
                            name="Internet 100", price=Decimal("450.00"), valid_from=valid_from,
                            valid_to=valid_to))
        if i == 7:  # invoice e-mails switched off
            session.add(CreditServiceSettings(
                customer_id=customer.id, auto_renew_kinds="", low_credit_notices=False,
                low_credit_threshold=Decimal("0.00"), payment_request_emails=False,
                updated_at=jobs.now()))
        if i != 6:
            expect["invoiced"].add(customer.id)
            if email and i != 7:
                expect["mailed"][email] = customer.id
    session.flush()
    tx = ParsedTransaction(
        bank_tx_id="771003", booked_on=date(2026, 10, 20), amount=Decimal("200.00"),
        currency="CZK", variable_symbol="7703", specific_symbol=None, constant_symbol=None,
        counter_account="123456789/0800", counter_name="Zákazník", message="platba", line=0)
    import_statement(session, render_gpc(ParsedStatement("gpc", "2001234588/2010", [tx])),
                     "vypis.gpc", "gpc", bank_code="2010")
    session.commit()
    return expect


class Faults:
    """The fault hook: raises at the chosen occurrences of the chosen points (counted over
    the whole run, restarts included), each once, as a kill -9 there would."""

    def __init__(self, chosen) -> None:
        self.chosen = {(point, nth) for point, nth in chosen}
        self.counts: Counter = Counter()
        self.fired: list[str] = []

    def __call__(self, point: str) -> None:
        self.counts[point] += 1
        if (point, self.counts[point]) in self.chosen:
            self.fired.append(point)
            raise jobs.InjectedFault(point)


def run_until_done(app, supplier, *, chunk_size=3, max_restarts=20) -> int:
    """Plan and work the run until it is finished, starting it again after every fault
    (a fresh worker: new id, new SMTP connection; the dead one's lease is stale at once)."""
    from web.cli_jobs import mailer

    sessions = app.extensions["ispzone.sessions"]
    restarts = 0
    while True:
        try:
            with app.app_context():
                session = sessions()
                try:
                    plan(session, MONTH, actor="operator:test", on=ON, chunk_size=chunk_size)
                    session.commit()
                finally:
                    session.close()
                ctx = WorkContext(sessions, supplier, jobs.worker_id(), mailer(),
                                  lease=timedelta(0))
                try:
                    work(ctx, month=MONTH, until_idle=True, poll=0.01)
                finally:
                    ctx.mailer.transport.close()
            return restarts
        except jobs.InjectedFault:
            restarts += 1
            assert restarts <= max_restarts


def check_exactly_once(app, smtp, expect: dict, faults: Faults | None = None) -> None:
    sessions = app.extensions["ispzone.sessions"]
    with sessions() as s:
        per_customer = dict(s.execute(
            select(Invoice.customer_id, func.count()).where(Invoice.period_key == MONTH)
            .group_by(Invoice.customer_id)).all())
        assert per_customer == dict.fromkeys(expect["invoiced"], 1)
        numbers = dict(s.execute(select(Invoice.customer_id, Invoice.number)
                                 .where(Invoice.period_key == MONTH)).all())
        invoice_ids = list(s.scalars(select(Invoice.id).where(Invoice.period_key == MONTH)))
        # the ledger: every transaction balanced, one posting per invoice
        unbalanced = s.execute(select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
                               .having(func.sum(LedgerLeg.amount) != 0)).all()
        assert unbalanced == []
        assert s.scalar(select(func.sum(LedgerLeg.amount))) == 0
        assert s.scalar(select(func.count()).select_from(LedgerTransaction)
                        .where(LedgerTransaction.invoice_id.in_(invoice_ids))) == len(invoice_ids)
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "invoice.issued")) == len(invoice_ids)
        # customer 7703's payment settled part of their invoice
        paid = s.scalar(select(func.sum(Allocation.amount)).join(Invoice, Invoice.id == Allocation.invoice_id).where(
            Invoice.period_key == MONTH))
        assert paid == Decimal("200.00")
        mails = s.scalars(select(InvoiceMail)).all()
        assert {m.state for m in mails} <= {"sent"} and len(mails) == len(expect["mailed"])
        status = run_status(s, MONTH)
        assert status.finished and status.mailed == len(expect["mailed"])
        assert status.issued == len(expect["invoiced"])
    # at the SMTP server: one distinct message per customer with an address, its Message-ID
    # the invoice's; a message twice only where the run died between the 250 and the commit
    by_address: dict[str, set[str]] = {}
    for to, mid in smtp.received:
        by_address.setdefault(to, set()).add(mid)
    assert by_address == {address: {f"<invoice-{numbers[cid]}@priklad.net>"}
                          for address, cid in expect["mailed"].items()}
    duplicates = len(smtp.received) - len(smtp.distinct)
    assert duplicates == (faults.fired.count("after_smtp_accept") if faults else 0)


@pytest.fixture
def reset_database(app, owner_url):
    """Start each Hypothesis example on the empty migrated database again."""
    engine = app.extensions["ispzone.engine"]
    if owner_url.startswith("sqlite"):
        path = Path(make_url(owner_url).database)
        engine.dispose()
        pristine = path.with_suffix(".pristine")
        shutil.copy(path, pristine)

        def reset():
            engine.dispose()
            for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                extra.unlink(missing_ok=True)
            shutil.copy(pristine, path)
        return reset

    def reset():
        engine.dispose()
        owner = make_engine(owner_url)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with owner.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        owner.dispose()
    return reset


def test_the_run_without_faults_issues_and_mails_each_customer_once(app, smtp, supplier):
    with app.extensions["ispzone.sessions"]() as session:
        expect = populate(session)
    assert run_until_done(app, supplier) == 0
    check_exactly_once(app, smtp, expect)
    # started again: nothing new is issued or sent
    before = len(smtp.received)
    run_until_done(app, supplier)
    assert len(smtp.received) == before
    with app.extensions["ispzone.sessions"]() as s:
        assert s.scalar(select(func.count(Invoice.id))) == len(expect["invoiced"])
        assert s.scalar(select(jobs.Job.step).where(jobs.Job.key == run_key(MONTH))) == "settled"


EXPLICIT = [("after_smtp_accept", 2), ("before_commit", 1), ("after_render", 3),
            ("after_mail_commit", 1)]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chosen=st.lists(st.tuples(st.sampled_from(POINTS), st.integers(1, 4)), max_size=4,
                       unique=True))
@example(chosen=EXPLICIT)
@example(chosen=[("after_plan", 1), ("after_issue_chunk", 2), ("after_smtp_accept", 4)])
def test_killed_anywhere_and_started_again_each_customer_gets_one_invoice_and_one_email(
        app, smtp, supplier, reset_database, chosen):
    reset_database()
    smtp.reset()
    with app.extensions["ispzone.sessions"]() as session:
        expect = populate(session)
    faults = Faults(chosen)
    jobs.set_fault_hook(faults)
    try:
        restarts = run_until_done(app, supplier)
    finally:
        jobs.set_fault_hook(None)
    assert restarts == len(faults.fired)
    if chosen == EXPLICIT:  # the explicit example: every chosen fault fired
        assert sorted(faults.fired) == sorted(point for point, _ in chosen)
    check_exactly_once(app, smtp, expect, faults)


def test_a_chunk_whose_worker_process_is_gone_is_taken_over_at_once(session):
    """A lease held by a process of this host that no longer exists need not run out."""
    job = jobs.enqueue(session, "test.kind", "test:1", {})
    job.state, job.lease_until = jobs.RUNNING, jobs.now() + timedelta(hours=1)
    import socket

    job.locked_by = f"{socket.gethostname()[:60]}:999999999:dead"
    alive = jobs.enqueue(session, "test.kind", "test:2", {})
    alive.state, alive.lease_until = jobs.RUNNING, jobs.now() + timedelta(hours=1)
    alive.locked_by = jobs.worker_id()  # this very process
    session.commit()
    taken = jobs.claim(session, ["test.kind"], "me:1:x")
    assert taken.key == "test:1" and taken.attempts == 1 and taken.locked_by == "me:1:x"
    assert jobs.claim(session, ["test.kind"], "me:1:x") is None  # test:2's holder lives


def test_run_status_and_the_cli_progress(app, smtp):
    with app.extensions["ispzone.sessions"]() as session:
        expect = populate(session, 5)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["invoices", "issue", "--month", MONTH, "--chunk-size", "2",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"{len(expect['invoiced'])} invoices issued in 3 chunks" in result.output
    assert f"{len(expect['mailed'])} of {len(expect['invoiced'])} invoices e-mailed" in result.output
    status = runner.invoke(args=["invoices", "run-status", "--month", MONTH])
    assert status.exit_code == 0
    assert (f"issued {len(expect['invoiced'])} of 5 planned, chunks 3/3, rendered "
            f"{len(expect['mailed'])}, mailed {len(expect['mailed'])} of "
            f"{len(expect['mailed'])} (finished)") in status.output
    assert len(smtp.received) == len(smtp.distinct) == len(expect["mailed"])


# -- PostgreSQL: workers side by side ----------------------------------------------------------


def test_two_workers_take_disjoint_chunks(app, smtp, supplier, pg_url, need):
    need(pg_url, "TEST_DATABASE_URL (PostgreSQL) is not set")
    from web.cli_jobs import mailer

    with app.extensions["ispzone.sessions"]() as session:
        expect = populate(session, 16)
        plan(session, MONTH, actor="operator:test", on=ON, chunk_size=2)
        session.commit()
    rendered: list[tuple[str, int]] = []
    chunks: Counter = Counter()
    lock = threading.Lock()

    def witness(worker, invoice_id):
        with lock:
            rendered.append((worker, invoice_id))

    def one_worker():
        with app.app_context():
            ctx = WorkContext(app.extensions["ispzone.sessions"], supplier, jobs.worker_id(),
                              mailer(), on_render=witness)
            chunks[ctx.worker] = work(ctx, month=MONTH, until_idle=True, poll=0.05)
            ctx.mailer.transport.close()

    threads = [threading.Thread(target=one_worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(chunks) == 2 and sum(chunks.values()) == 8
    assert all(n > 0 for n in chunks.values()), chunks  # both took chunks
    ids = [invoice_id for _, invoice_id in rendered]
    assert len(ids) == len(set(ids)) == len(expect["mailed"])  # none rendered twice
    check_exactly_once(app, smtp, expect)
    assert len(smtp.received) == len(expect["mailed"])  # none mailed twice


def test_a_chunk_locked_by_one_worker_is_skipped_by_another(engine, pg_url, need):
    need(pg_url, "TEST_DATABASE_URL (PostgreSQL) is not set")
    from core.db import make_session_factory

    sessions = make_session_factory(engine)
    with sessions() as s:
        for i in (1, 2):
            jobs.enqueue(s, "test.kind", f"test:{i}", {})
        s.commit()
    holder = sessions()
    first = holder.scalar(select(jobs.Job).where(jobs.Job.key == "test:1").with_for_update())
    assert first is not None
    with sessions() as other:  # does not wait for the holder's row lock
        taken = jobs.claim(other, ["test.kind"], "other:1:x")
        assert taken.key == "test:2"
    holder.rollback()
    holder.close()

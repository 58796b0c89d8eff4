"""History is append-only in the database itself (migrations/guards.py, migration 0010), and
on PostgreSQL the application's role cannot switch that off (core/schema.py).

On both databases: UPDATE and DELETE of an audit event, an issued invoice, its lines and
its VAT recap are refused; a bank movement's pairing may change, what the bank reported
may not. On PostgreSQL, as the application's role (``ispzone_app_test``, no superuser,
owning nothing): disabling the triggers, ``session_replication_role`` and TRUNCATE are
refused, and the application's work (issuing, pairing, auditing) goes on as before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url, select, text
from sqlalchemy.exc import DatabaseError

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.models import Allocation, BankTransaction, Invoice
from billing.unpairing import unassign
from core import audit, schema
from core.clock import today
from core.db import make_session_factory

D = Decimal
REFUSED = "append-only"


def issue(session, customer, supplier, amount="450.00"):
    issued = today() - timedelta(days=30)
    invoice = issue_invoice(
        session, customer,
        [LineInput("Internet 100", D("1"), D(amount)), LineInput("Router", D("1"), D("121.00"))],
        supplier, IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)),
    )
    session.commit()
    return invoice


def movement(session, amount, vs):
    tx = BankTransaction(source_account="2001234567/2010", bank_tx_id=f"AO{vs}{amount}",
                         booked_on=today(), amount=D(amount), variable_symbol=vs)
    session.add(tx)
    session.flush()
    return tx


def refused(session, sql: str, **params) -> None:
    """``sql`` fails with the append-only message; the session is usable afterwards."""
    with pytest.raises(DatabaseError, match=REFUSED):
        with session.begin_nested():
            session.execute(text(sql), params)


def test_an_audit_event_cannot_be_changed_or_deleted(session):
    event = audit.record(session, "test.something", actor="operator:test", new_value="1")
    session.commit()
    refused(session, "UPDATE audit_event SET actor = 'x' WHERE id = :id", id=event.id)
    refused(session, "UPDATE audit_event SET details = '{}' WHERE id = :id", id=event.id)
    refused(session, "DELETE FROM audit_event WHERE id = :id", id=event.id)
    session.rollback()
    assert session.scalar(text("SELECT actor FROM audit_event WHERE id = :id"),
                          {"id": event.id}) == "operator:test"


def test_an_issued_invoice_its_lines_and_recap_cannot_be_changed(session, make_customer, supplier):
    invoice = issue(session, make_customer(number="7101"), supplier)
    line = invoice.lines[0]
    refused(session, "UPDATE invoice SET total = total + 1 WHERE id = :id", id=invoice.id)
    refused(session, "UPDATE invoice SET customer_name = 'Jiný' WHERE id = :id", id=invoice.id)
    refused(session, "DELETE FROM invoice WHERE id = :id", id=invoice.id)
    refused(session, "UPDATE invoice_line SET gross = 1 WHERE id = :id", id=line.id)
    refused(session, "DELETE FROM invoice_line WHERE id = :id", id=line.id)
    refused(session, "UPDATE invoice_vat_recap SET vat = 0 WHERE invoice_id = :id", id=invoice.id)
    refused(session, "DELETE FROM invoice_vat_recap WHERE invoice_id = :id", id=invoice.id)
    session.rollback()
    # the ORM gets the same answer
    invoice = session.get(Invoice, invoice.id)
    invoice.note = "changed afterwards"
    with pytest.raises(DatabaseError, match=REFUSED):
        session.commit()
    session.rollback()
    assert session.get(Invoice, invoice.id).note is None
    assert len(session.get(Invoice, invoice.id).lines) == 2


def test_a_movement_keeps_what_the_bank_reported_and_allocations_are_never_changed(
    session, make_customer, supplier
):
    customer = make_customer(number="7102")
    invoice = issue(session, customer, supplier)
    tx = movement(session, invoice.total, "7102")
    assert pair(session, tx) == "matched"  # the pairing (status, customer) may change
    session.commit()
    refused(session, "UPDATE bank_transaction SET amount = 1 WHERE id = :id", id=tx.id)
    refused(session, "UPDATE bank_transaction SET variable_symbol = '1' WHERE id = :id", id=tx.id)
    refused(session, "DELETE FROM bank_transaction WHERE id = :id", id=tx.id)
    refused(session, "UPDATE allocation SET amount = 1 WHERE bank_transaction_id = :id", id=tx.id)
    # unpairing removes the allocations and changes the pairing: still allowed
    unassign(session, tx, actor="operator:test", reason="wrong customer")
    session.commit()
    assert (tx.status, tx.customer_id) == ("unmatched", None)
    assert session.scalars(select(Allocation).where(Allocation.bank_transaction_id == tx.id)).all() == []


def test_downgrade_removes_the_triggers_and_upgrade_puts_them_back(fresh_engine):
    schema.upgrade(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_event (at, actor, action) "
                          "VALUES ('2026-01-01 00:00:00', 'system', 'test')"))
    url = fresh_engine.url.render_as_string(hide_password=False)
    before = ScriptDirectory.from_config(schema.alembic_config(url)).get_revision("0010")
    schema.downgrade(fresh_engine, before.down_revision)
    with fresh_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'changed'"))
    schema.upgrade(fresh_engine)
    with pytest.raises(DatabaseError, match=REFUSED), fresh_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'again'"))


def test_guards_protect_any_table_with_its_mutable_columns(fresh_engine):
    """migrations/guards.py as another migration (the ledger's) uses it."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from migrations.guards import protect, unprotect

    with fresh_engine.begin() as conn:
        conn.execute(text("CREATE TABLE leg (id INTEGER PRIMARY KEY, amount INTEGER, note TEXT)"))
        conn.execute(text("INSERT INTO leg VALUES (1, 100, NULL)"))
        op = Operations(MigrationContext.configure(conn))
        with pytest.raises(ValueError, match="leg has no column"):
            protect(op, "leg", mutable_columns=("notes",))
        protect(op, "leg", mutable_columns=("note",), hint="post a reversal")
        protect(op, "leg", mutable_columns=("note",), hint="post a reversal")  # idempotent

    def run(sql):
        with fresh_engine.begin() as conn:
            if fresh_engine.dialect.name == "postgresql":
                # the owner, even as a superuser replicating, meets the row trigger
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql))

    run("UPDATE leg SET note = 'checked'")
    run("UPDATE leg SET amount = amount")  # nothing immutable changes
    for sql in ("UPDATE leg SET amount = 1", "UPDATE leg SET id = 2", "DELETE FROM leg"):
        with pytest.raises(DatabaseError, match="leg is append-only: post a reversal"):
            run(sql)
    if fresh_engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), fresh_engine.begin() as conn:
            conn.execute(text("TRUNCATE leg"))
    with fresh_engine.begin() as conn:
        unprotect(Operations(MigrationContext.configure(conn)), "leg")
    run("UPDATE leg SET amount = 1")
    run("DELETE FROM leg")


GUARDED = ("audit_event", "invoice", "invoice_line", "invoice_vat_recap", "tax_receipt",
           "tax_receipt_vat", "bank_transaction", "statement_import", "allocation",
           "tax_receipt_correction", "tax_receipt_correction_vat")


def test_every_guard_is_in_place_at_head(session):
    """A later migration that rebuilds a table (SQLite's batch mode copies it) drops its
    triggers; it must protect the table again (migrations/guards.py)."""
    if session.get_bind().dialect.name == "postgresql":
        sql = ("SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
               "WHERE t.tgname = c.relname || '_append_only' AND c.relnamespace = "
               "current_schema()::regnamespace")
    else:
        sql = "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%append_only%'"
    assert set(GUARDED) <= set(session.scalars(text(sql)))


def test_the_app_role_is_the_urls_user_when_the_owner_is_another():
    pg, owner = "postgresql://ispzone@db/ispzone", "postgresql://ispzone_owner@db/ispzone"
    assert schema.app_role(pg, owner) == "ispzone"
    assert schema.app_role(pg, "") is None  # one role does everything (the demo)
    assert schema.app_role(pg, pg) is None
    assert schema.app_role(pg, owner, "web") == "web"
    assert schema.app_role("sqlite:///x.sqlite3", "sqlite:///x.sqlite3") is None


# -- PostgreSQL: the application's role cannot switch the guards off -------------------------




@pytest.fixture
def app_session(engine, need, app_role):
    """A session as the application's role (conftest connects the tests as that role)."""
    need(engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    session = make_session_factory(engine)()
    assert session.scalar(text("SELECT current_user")) == app_role
    assert not session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    yield session
    session.rollback()
    session.close()


@pytest.mark.parametrize("sql", [
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
    "ALTER TABLE invoice_line DISABLE TRIGGER USER",
    "DROP TRIGGER audit_event_append_only ON audit_event",
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
    "AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
    "SET session_replication_role = replica",
    "SET LOCAL session_replication_role = replica",
    "TRUNCATE audit_event",
    "UPDATE alembic_version SET version_num = '0001'",
])
def test_the_app_role_cannot_switch_the_guards_off(app_session, sql):
    with pytest.raises(DatabaseError, match="must be owner|permission denied"):
        app_session.execute(text(sql))


def test_the_app_role_does_the_apps_work(app_session, make_customer, supplier):
    """Issue an invoice, pair a payment, unpair it, record audit events: as the app's role."""
    customer = make_customer(number="7103")
    invoice = issue(app_session, app_session.merge(customer), supplier)
    tx = movement(app_session, invoice.total, "7103")
    assert pair(app_session, tx, actor="operator:test") == "matched"
    app_session.commit()
    assert ledger.balance(app_session, customer.id) == D("0.00")
    unassign(app_session, tx, actor="operator:test", reason="test")
    audit.record(app_session, "test.done", actor="operator:test", customer_id=customer.id)
    app_session.commit()
    assert ledger.balance(app_session, customer.id) == -invoice.total
    actions = app_session.scalars(text(
        "SELECT action FROM audit_event WHERE customer_id = :c ORDER BY id"), {"c": customer.id}
    ).all()
    assert actions[-2:] == ["payment.unassigned", "test.done"]
    with pytest.raises(DatabaseError, match=REFUSED):
        app_session.execute(text("UPDATE audit_event SET actor = 'x'"))


def test_db_upgrade_runs_as_the_owner_and_grants_the_app_role(fresh_engine, tmp_path, need,
                                                              app_role):
    """``ispzone db upgrade`` with DATABASE_OWNER_URL: the owner migrates, the app's role
    (DATABASE_URL's user) gets rows but no tables; a superuser as the app's role is refused."""
    need(fresh_engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    from app import create_app

    owner = fresh_engine.url.render_as_string(hide_password=False)
    app_url = make_url(owner).set(username=app_role).render_as_string(hide_password=False)
    config = {"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": app_url,
              "DATABASE_OWNER_URL": owner, "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    app = create_app(config)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"role {app_role} granted" in result.output
    app_engine = app.extensions["ispzone.engine"]
    with app_engine.begin() as conn:
        owners = conn.scalars(text(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()"
        )).all()
        assert owners and app_role not in owners
        conn.execute(text("INSERT INTO audit_event (at, actor, action) "
                          "VALUES (now(), 'system', 'test')"))
        assert "audit_event" in inspect(conn).get_table_names()
    with pytest.raises(DatabaseError, match="must be owner"), app_engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER ALL"))
    app_engine.dispose()

    superuser = make_url(owner).username
    bad = create_app({**config, "DATABASE_APP_ROLE": superuser})
    result = bad.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert "could disable the append-only triggers" in result.output
    bad.extensions["ispzone.engine"].dispose()

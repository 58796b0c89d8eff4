"""SQLite (the demo) has one write lock: while a long statement import holds it, the pages
that only read are answered at once. Their own bookkeeping (the login's last-seen touch) is
given up for that page instead of waiting 30 s and answering 500; a form that changes money
still fails, visibly, and changes nothing."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import OperationalError

from billing.models import CashReceipt, UserSession
from billing.models.operators import OperatorSession
from core.clock import now

QUICK = 5.0  # seconds: a page must be answered well before the 30 s busy timeout


@pytest.fixture
def database_url(sqlite_database_url):
    """SQLite's one write lock is what these tests are about: SQLite also when the suite runs
    on PostgreSQL."""
    return sqlite_database_url


@contextmanager
def write_lock(app):
    """Another connection (the import) holds the database's write lock."""
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE customer SET name = name WHERE id = -1")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def _age(session, model, **where):
    """Make the login's last-seen touch due (it is done once a minute)."""
    old = now() - timedelta(minutes=2)
    stmt = update(model).values(last_seen_at=old)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    session.execute(stmt)
    session.commit()
    return old


def _last_seen(session, model, **where):
    session.rollback()  # a fresh snapshot
    stmt = select(model.last_seen_at)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.scalar(stmt)


def test_console_page_answers_while_an_import_holds_the_lock(app, session, console_client):
    client = console_client("support")
    op_id = client.operator.id
    old = _age(session, OperatorSession, operator_id=op_id)
    with write_lock(app):
        started = time.monotonic()
        response = client.get("/console/")
        took = time.monotonic() - started
        assert response.status_code == 200 and took < QUICK, took
        # the touch was given up for this page (the lock was held), not waited for
        assert _last_seen(session, OperatorSession, operator_id=op_id) == old
    # the lock released: the next page touches the login as before
    assert client.get("/console/").status_code == 200
    assert _last_seen(session, OperatorSession, operator_id=op_id) > old


def test_zone_page_answers_while_an_import_holds_the_lock(app, session, client, auth,
                                                         make_customer):
    customer = make_customer(number="7981")
    assert auth.login("7981", "secret-pass").status_code == 302
    old = _age(session, UserSession, customer_id=customer.id)
    with write_lock(app):
        started = time.monotonic()
        response = client.get("/services")
        took = time.monotonic() - started
        assert response.status_code == 200 and took < QUICK, took
        assert _last_seen(session, UserSession, customer_id=customer.id) == old
    assert client.get("/services").status_code == 200
    assert _last_seen(session, UserSession, customer_id=customer.id) > old


@pytest.fixture
def short_busy_timeout(app):
    """The app's connections wait 0.3 s for the write lock instead of 30 s (the test's
    patience, not the app's behaviour)."""
    engine = app.extensions["ispzone.engine"]

    def shorten(dbapi_conn, _record, _proxy):
        dbapi_conn.execute("PRAGMA busy_timeout=300")

    event.listen(engine, "checkout", shorten)
    yield
    event.remove(engine, "checkout", shorten)
    engine.dispose()


def test_a_money_form_fails_visibly_and_changes_nothing(app, session, console_client,
                                                       make_customer, short_busy_timeout):
    customer = make_customer(number="7982")
    client = console_client("billing")
    client.post("/language", data={"lang": "cs"})
    with write_lock(app):
        response = client.post(f"/console/customers/{customer.id}/cash",
                                data={"amount": "1000", "note": "na pobočce"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "Nic nebylo uloženo" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalars(select(CashReceipt)).all() == []
    # the same form once the lock is released: the payment is taken
    response = client.post(f"/console/customers/{customer.id}/cash",
                           data={"amount": "1000", "note": "na pobočce"})
    assert response.status_code == 302
    session.rollback()
    assert [r.amount for r in session.scalars(select(CashReceipt))] == [D("1000.00")]


def test_bookkeeping_write_gives_up_only_when_busy(app):
    from core.db import write_unless_busy

    engine = app.extensions["ispzone.engine"]
    stmt = update(UserSession).where(UserSession.id == -1).values(last_seen_at=now())
    assert write_unless_busy(engine, stmt) is True
    with write_lock(app):
        started = time.monotonic()
        assert write_unless_busy(engine, stmt) is False
        assert time.monotonic() - started < 2
    with pytest.raises(OperationalError):  # any other failure is not swallowed
        write_unless_busy(engine, text("UPDATE no_such_table SET x = 1"))

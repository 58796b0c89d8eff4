"""The two doors (issue 12, items 3 and 4): a refusal in a view or a command changes
nothing and reaches the user once; commits happen only in the doors; serialization
failures are retried in one place (core.db.run_in_transaction)."""

from __future__ import annotations

import ast
import sqlite3
import threading
from pathlib import Path

import click
import pytest
from flask import flash, redirect, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from billing.models import AuditEvent
from core import audit
from core.db import is_retryable, make_engine, make_session_factory, run_in_transaction
from core.errors import Conflict, DomainError
from tests.support import PG_URL, need

ROOT = Path(__file__).resolve().parents[1]
ACTION = "door.test"


class Refused(Conflict):
    """Nothing to do here."""


def _events(session) -> int:
    session.rollback()
    return session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == ACTION))


def _write(session, note: str = "x") -> None:
    audit.record(session, ACTION, actor="test", new_value=note)
    session.flush()


@pytest.fixture
def door_app(app):
    """The app with a few views that write and then succeed, fail or are refused."""
    from web.database import db
    from web.door import after_commit, on_refusal

    calls: list[str] = []
    app.config["DOOR_CALLS"] = calls

    def refused():
        _write(db())
        raise Refused("The thing is already done.")

    @on_refusal(Refused, redirect_to="zone.login", message=lambda exc: f"declared: {exc.message}")
    def refused_back():
        _write(db())
        raise Refused("The thing is already done.")

    def written():
        _write(db())
        after_commit(lambda: calls.append("sent"))
        flash("saved", "success")
        return redirect(url_for("zone.login"))

    def not_found_after_write():
        _write(db())
        after_commit(lambda: calls.append("sent"))
        return "no such thing", 404

    for rule, view in (("/_door/refused", refused), ("/_door/refused-back", refused_back),
                       ("/_door/written", written), ("/_door/404", not_found_after_write)):
        app.add_url_rule(rule, view.__name__, view, methods=["POST"])

    def get_pending():  # a GET whose change is only pending in the ORM (not flushed)
        audit.record(db(), ACTION, actor="test", new_value="pending")
        after_commit(lambda: calls.append("sent"))
        return "ok"

    def get_read():  # a GET that only reads (on PostgreSQL in autocommit mode)
        db().scalar(select(func.count(AuditEvent.id)))
        after_commit(lambda: calls.append("read"))
        return "ok"

    for rule, view in (("/_door/get-pending", get_pending), ("/_door/get-read", get_read)):
        app.add_url_rule(rule, view.__name__, view, methods=["GET"])
    return app


def test_refusal_in_a_view_flashes_a_4xx_page_and_writes_nothing(door_app, session):
    client = door_app.test_client()
    with client.session_transaction() as cookie:
        cookie["lang"] = "en"
    r = client.post("/_door/refused")
    page = r.get_data(as_text=True)
    assert r.status_code == 409
    assert "The thing is already done." in page  # the flash, on the refused page
    assert "Request refused" in page
    assert _events(session) == 0


def test_refused_page_in_czech(door_app, session):
    client = door_app.test_client()
    r = client.post("/_door/refused")  # Czech by default
    assert r.status_code == 409
    assert "Požadavek byl odmítnut" in r.get_data(as_text=True)
    assert _events(session) == 0


def test_a_view_may_declare_a_redirect_back(door_app, session):
    client = door_app.test_client()
    r = client.post("/_door/refused-back")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    with client.session_transaction() as cookie:
        assert ("error", "declared: The thing is already done.") in cookie["_flashes"]
    assert _events(session) == 0  # a redirect, but the refused work is not committed


def test_success_commits_once_then_after_commit_runs(door_app, session):
    r = door_app.test_client().post("/_door/written")
    assert r.status_code == 302
    assert _events(session) == 1
    assert door_app.config["DOOR_CALLS"] == ["sent"]


def test_a_get_commits_its_pending_change_and_runs_after_commit(door_app, session):
    client = door_app.test_client()
    assert client.get("/_door/get-pending").status_code == 200
    assert _events(session) == 1  # flushed and committed by the door, not lost
    assert client.get("/_door/get-read").status_code == 200  # nothing to commit
    assert door_app.config["DOOR_CALLS"] == ["sent", "read"]  # after_commit ran for both


def test_a_4xx_answer_rolls_back_and_skips_after_commit(door_app, session):
    r = door_app.test_client().post("/_door/404")
    assert r.status_code == 404
    assert _events(session) == 0
    assert door_app.config["DOOR_CALLS"] == []


# -- the CLI door ----------------------------------------------------------------------------


@pytest.fixture
def cli_app(app):
    from web.cli_door import run, unit_of_work

    @app.cli.command("door-refuse")
    def door_refuse():
        with unit_of_work(refused="{error} (nothing was changed)") as session:
            _write(session)
            raise Refused("The thing is already done.")

    @app.cli.command("door-run")
    @click.option("--refuse", is_flag=True)
    def door_run(refuse: bool):
        def work(session):
            _write(session)
            if refuse:
                raise Refused("No.")
            return "done"

        click.echo(run(work))

    return app


def test_refusal_in_a_command_exits_1_on_stderr_and_writes_nothing(cli_app, session):
    r = cli_app.test_cli_runner().invoke(args=["door-refuse"])
    assert r.exit_code == 1
    assert "Error: The thing is already done. (nothing was changed)" in r.stderr
    assert r.stdout == ""
    assert _events(session) == 0


def test_command_through_run(cli_app, session):
    runner = cli_app.test_cli_runner()
    r = runner.invoke(args=["door-run", "--refuse"])
    assert r.exit_code == 1 and "Error: No." in r.stderr
    assert _events(session) == 0
    r = runner.invoke(args=["door-run"])
    assert r.exit_code == 0 and r.stdout.strip() == "done"
    assert _events(session) == 1


def test_a_real_command_refused(app, session, make_customer):
    """``voip set-cap`` of an unknown line: voip.lines.LineError through the door."""
    r = app.test_cli_runner().invoke(args=["voip", "set-cap", "+420609999999", "100"])
    assert r.exit_code == 1
    assert "(nothing was changed)" in r.stderr
    session.rollback()
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


# -- retries ---------------------------------------------------------------------------------


def _driver_error(orig: Exception) -> OperationalError:
    return OperationalError("INSERT ...", {}, orig)


class _PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def test_what_is_retried():
    assert is_retryable(_driver_error(_PgError("40001")))
    assert is_retryable(_driver_error(_PgError("40P01")))
    assert is_retryable(_driver_error(sqlite3.OperationalError("database is locked")))
    assert not is_retryable(_driver_error(_PgError("23505")))
    assert not is_retryable(IntegrityError("INSERT", {}, Exception("UNIQUE")))
    assert not is_retryable(Refused("no"))


@pytest.mark.parametrize("orig", [_PgError("40001"), sqlite3.OperationalError("database is locked")])
def test_retry_on_a_simulated_serialization_failure(engine, session, orig):
    attempts = []

    def work(s):
        attempts.append(1)
        _write(s, f"attempt {len(attempts)}")
        if len(attempts) == 1:
            raise _driver_error(orig)
        return len(attempts)

    assert run_in_transaction(make_session_factory(engine), work, backoff=0) == 2
    session.rollback()
    notes = session.scalars(select(AuditEvent.new_value).where(AuditEvent.action == ACTION)).all()
    assert notes == ["attempt 2"]  # the failed attempt's row was rolled back


def test_retries_are_bounded_and_other_errors_are_not_retried(engine, session):
    attempts = []

    def always_locked(s):
        attempts.append(1)
        _write(s)
        raise _driver_error(_PgError("40P01"))

    with pytest.raises(OperationalError):
        run_in_transaction(make_session_factory(engine), always_locked, retries=2, backoff=0)
    assert len(attempts) == 3

    attempts.clear()

    def refused(s):
        attempts.append(1)
        _write(s)
        raise Refused("no")

    with pytest.raises(Refused):
        run_in_transaction(make_session_factory(engine), refused, backoff=0)
    assert len(attempts) == 1
    assert _events(session) == 0


@pytest.mark.postgres
def test_retry_on_a_real_serializable_conflict(database_url, session):
    """Two SERIALIZABLE transactions each count the rows and add one (write skew): the
    one that commits second fails with SQLSTATE 40001, and the door runs it again."""
    need(PG_URL is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    serializable = make_engine(database_url, isolation_level="SERIALIZABLE")
    factory = make_session_factory(serializable)
    attempts: list[int] = []
    failures: list[BaseException] = []

    def count(s) -> int:
        return s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == ACTION))

    def other_transaction():
        with factory() as other:
            seen = count(other)
            _write(other, f"other saw {seen}")
            other.commit()

    def work(s):
        seen = count(s)
        attempts.append(seen)
        if len(attempts) == 1:  # meanwhile another transaction does the same and commits
            t = threading.Thread(target=other_transaction)
            t.start()
            t.join()
        _write(s, f"mine saw {seen}")
        return seen

    try:
        result = run_in_transaction(factory, work, backoff=0)
    except Exception as exc:  # pragma: no cover - reported by the assertion below
        failures.append(exc)
    finally:
        serializable.dispose()
    assert not failures, failures
    assert attempts == [0, 1] and result == 1  # the second attempt saw the other's row
    session.rollback()
    notes = sorted(session.scalars(select(AuditEvent.new_value).where(AuditEvent.action == ACTION)))
    assert notes == ["mine saw 1", "other saw 0"]


# -- no view or command commits ----------------------------------------------------------------

DOORS = {"web/door.py", "web/cli_door.py"}
PACKAGES = ("zone", "voip", "enforcement", "web")


def _commits(path: Path) -> list[int]:
    """The lines of ``path`` that call ``.commit(`` or ``.rollback(``."""
    tree = ast.parse(path.read_text(), str(path))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr in ("commit", "rollback")]


def test_only_the_doors_commit_or_roll_back():
    modules = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(modules) > 40
    found = [f"{p.relative_to(ROOT)}:{line}" for p in modules
             if str(p.relative_to(ROOT)) not in DOORS for line in _commits(p)]
    assert found == []


def test_the_static_check_sees_a_commit(tmp_path):
    bad = tmp_path / "view.py"
    bad.write_text("def view():\n    db().commit()\n    s.rollback()\n")
    assert _commits(bad) == [2, 3]


# -- one error root --------------------------------------------------------------------------


def test_every_typed_refusal_is_a_domain_error():
    from billing.bank.pairing import PairingError
    from billing.bank.statements import StatementError
    from billing.customers.credentials import CredentialError
    from billing.customers.self_service import ContactValidationError
    from billing.customers.usage import RangeError
    from billing.customers.validation import InvalidValue
    from billing.demo import DemoError
    from billing.documents.qrplatba import QrPlatbaError
    from billing.invoicing.issue import InvoicingError
    from billing.invoicing.receipts import ReceiptError
    from billing.legacy_import.formats import ImportFileError
    from core.mail import MailError
    from enforcement.cases import CaseError
    from enforcement.drivers import DriverError
    from enforcement.radius.accounting import AccountingError
    from voip.cdr_parse import CdrFileError
    from voip.lines import LineError
    from voip.tariff_import import TariffFileError
    from voip.tariffs import InvalidNumber
    from voip.topups import CapExceeded, TopUpError

    refusals = [PairingError, StatementError, CredentialError, ContactValidationError,
                RangeError, InvalidValue, DemoError, QrPlatbaError, InvoicingError,
                ReceiptError, ImportFileError, CaseError, AccountingError, LineError,
                CdrFileError, TariffFileError, InvalidNumber, TopUpError, CapExceeded]
    for cls in refusals:
        assert issubclass(cls, DomainError) and issubclass(cls, ValueError), cls
        assert 400 <= cls.status < 500
    for infrastructure in (MailError, DriverError):
        assert not issubclass(infrastructure, DomainError)
    assert CapExceeded.status == CaseError.status == 409
    assert StatementError("bad", line=3).message == "line 3: bad"
    assert Refused().message == "Nothing to do here."


def test_a_refusal_names_a_file_with_braces_in_its_name():
    """The wording carries the file's name; braces in it are text, not format fields."""
    from web.cli_door import refusal

    error = refusal(DomainError("bad line 3"), "/tmp/st{x}{0}.gpc: {error} (nothing was imported)")
    assert error.message == "/tmp/st{x}{0}.gpc: bad line 3 (nothing was imported)"

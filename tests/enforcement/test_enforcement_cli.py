"""``ispzone enforcement ...`` and ``ispzone worker``, as an operator uses them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from billing.models import AuditEvent, Customer
from core.clock import today
from enforcement.drivers import RouterConfig
from enforcement.drivers.recording import RecordingDriver, read_state
from enforcement.models import EnforcementCase, Router, RouterAction

ROOT = Path(__file__).resolve().parents[2]


def invoke(app, *args, code: int = 0) -> str:
    with app.app_context():  # as the ``ispzone`` FlaskGroup provides it
        result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def state(session, number: str) -> str | None:
    session.commit()
    session.expire_all()
    return session.scalar(select(EnforcementCase.state).join(
        Customer, Customer.id == EnforcementCase.customer_id).where(
        Customer.customer_number == number))


def test_run_dry_run_then_for_real(app, session, debtor, outbox):
    debtor("9001", "10.50.0.1", today() - timedelta(days=30), router="r1")
    output = invoke(app, "enforcement", "run", "--dry-run")
    assert "would change 1" in output
    assert "9001: ok -> warned, mail reminder1, mail reminder2, mail warning, list_add warned" in output
    assert "dry run: nothing changed, nothing sent" in output
    assert state(session, "9001") is None and outbox.messages() == []

    output = invoke(app, "enforcement", "run")
    assert "changed 1" in output and "router actions: 1 done" in output and "3 sent" in output
    assert state(session, "9001") == "warned"
    assert read_state(app.config["ENFORCEMENT_RECORDING_DIR"], "r1")["lists"] == {
        "warned": ["10.50.0.1"]}
    assert len(outbox.messages()) == 3


def test_run_as_of_a_date(app, session, debtor):
    debtor("9002", "10.50.0.2", today() - timedelta(days=1))
    assert "changed 0" in invoke(app, "enforcement", "run", "--date",
                                 today().isoformat())
    later = (today() + timedelta(days=2)).isoformat()
    assert "9002: ok -> reminded" in invoke(app, "enforcement", "run", "--date", later)
    invoke(app, "enforcement", "run", "--date", "22.11.2026", code=2)  # not YYYY-MM-DD


def test_cases_reconnect_and_exempt(app, session, debtor, monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "jana")  # what `ispzone --as jana ...` sets
    debtor("9003", "10.50.0.3", today() - timedelta(days=30), router="r1")
    invoke(app, "enforcement", "run")
    assert "9003  warned" in invoke(app, "enforcement", "cases")
    assert invoke(app, "enforcement", "cases", "--state", "disconnected") == "no cases\n"

    output = invoke(app, "enforcement", "reconnect", "9003")
    assert "reconnected: 9003: warned -> ok" in output
    assert "next sweep starts the reminders again" in output
    assert state(session, "9003") == "ok"
    assert read_state(app.config["ENFORCEMENT_RECORDING_DIR"], "r1")["lists"]["warned"] == []
    forced = session.scalar(select(AuditEvent).where(AuditEvent.action == "enforcement.ok"))
    assert forced.actor == "operator:jana" and '"forced": true' in forced.details
    assert "nothing to do" in invoke(app, "enforcement", "reconnect", "9003")
    invoke(app, "enforcement", "reconnect", "0000", code=1)

    until = (today() + timedelta(days=14)).isoformat()
    assert f"exempt until {until}" in invoke(app, "enforcement", "exempt", "9003", "--until", until)
    assert "changed 0" in invoke(app, "enforcement", "run")
    assert state(session, "9003") == "ok"
    assert "never enforced" in invoke(app, "enforcement", "exempt", "9003", "--never")
    assert "cleared" in invoke(app, "enforcement", "exempt", "9003", "--clear")
    assert "9003: ok -> warned" in invoke(app, "enforcement", "run")
    invoke(app, "enforcement", "exempt", "9003", "--never", "--clear", code=2)
    session.commit()
    exempts = session.scalars(select(AuditEvent.new_value).where(
        AuditEvent.action == "enforcement.exempt").order_by(AuditEvent.id)).all()
    assert exempts == [until, "never", None]


def test_routers_add_list_and_reconcile(app, session, debtor):
    output = invoke(app, "enforcement", "routers", "add", "edge1", "--driver", "routeros",
                    "--host", "192.0.2.1", "--port", "8729", "--tls", "--username", "api",
                    "--secret", "env:EDGE1_PASSWORD")
    assert output == "router edge1 added (routeros)\n"
    invoke(app, "enforcement", "routers", "add", "r1", "--driver", "recording")
    invoke(app, "enforcement", "routers", "add", "nas", "--driver", "radius", code=2)  # no host
    listed = invoke(app, "enforcement", "routers", "list")
    assert "edge1  routeros  192.0.2.1:8729 tls  user api  secret env:EDGE1_PASSWORD" in listed
    assert "r1  recording" in listed
    router = session.scalar(select(Router).where(Router.name == "edge1"))
    session.delete(router)  # unreachable in a test; reconcile would only report it
    session.commit()

    debtor("9004", "10.50.0.4", today() - timedelta(days=30), router="r1")
    invoke(app, "enforcement", "run")
    driver = RecordingDriver(RouterConfig("r1", "recording"),
                             directory=app.config["ENFORCEMENT_RECORDING_DIR"])
    stray = RouterAction(kind="list_add", list_name="blocked", address="10.50.9.9")
    driver.apply(stray)  # drift: an address blocked that nobody should block ...
    driver.apply(RouterAction(kind="list_remove", list_name="warned", address="10.50.0.4"))  # ...
    output = invoke(app, "enforcement", "reconcile")
    assert "r1: add 10.50.0.4 to warned" in output and "r1: remove 10.50.9.9 from blocked" in output
    assert read_state(app.config["ENFORCEMENT_RECORDING_DIR"], "r1")["lists"] == {
        "warned": ["10.50.0.4"], "blocked": []}
    assert "everything agrees" in invoke(app, "enforcement", "reconcile")


def test_actions_show_what_each_router_answered_or_why_it_waits(app, session, debtor):
    session.add(Router(name="off", driver="recording", enabled=False))
    debtor("9006", "10.50.0.6", today() - timedelta(days=30), router="r1")
    debtor("9007", "10.50.0.7", today() - timedelta(days=30), router="off")
    invoke(app, "enforcement", "run")

    mine = invoke(app, "enforcement", "actions", "--customer", "9006").splitlines()
    assert len(mine) == 1
    assert "9006" in mine[0] and "r1" in mine[0] and "list_add warned" in mine[0]
    assert mine[0].endswith("10.50.0.6          done    added")
    [waiting] = invoke(app, "enforcement", "actions", "--status", "pending").splitlines()
    assert "9007" in waiting and "off" in waiting
    assert "attempt 2 at " in waiting and "last error: TemporaryError: router off is disabled" \
        in waiting
    assert len(invoke(app, "enforcement", "actions").splitlines()) == 2
    assert invoke(app, "enforcement", "actions", "--status", "failed") == "no router actions\n"
    invoke(app, "enforcement", "actions", "--customer", "0000", code=1)


def test_worker_process_sweeps_sends_and_stops_on_sigterm(app, app_config, session, debtor,
                                                         tmp_path):
    debtor("9005", "10.50.0.5", today() - timedelta(days=5))
    env = {**os.environ, "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "x",
           "PUBLIC_URL": app_config["PUBLIC_URL"], "PROXY_FIX": "none",
           "MAIL_OUTBOX_DIR": str(tmp_path / "mail"), "ENFORCEMENT_SWEEP_HOUR": "0",
           "ENFORCEMENT_RECORDING_DIR": str(tmp_path / "routers"),
           "ENFORCEMENT_WORKER_INTERVAL": "1", "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-c", "from app import main; main()", "worker"]
    process = subprocess.Popen(cli, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "mail").glob("*.eml")):
            time.sleep(0.2)
        assert state(session, "9005") == "reminded"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "9005: ok -> reminded" in output
    assert output.rstrip().endswith("worker stopped")
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1

"""Operators: ``ispzone operators ...`` and the admin's Operators page; the demo's operators."""

from __future__ import annotations

import json

import pyotp
from sqlalchemy import func, select

from billing.models import Operator
from core.audit import AuditEvent
from core.passwords import verify_password


def _events(session, action):
    session.rollback()
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)).all()


def test_operators_add_list_disable_enable_by_command(app, session, monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "jana")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["operators", "add", "Petr", "--role", "billing", "--name",
                                 "Petr Účetní", "--email", "petr@priklad.net",
                                 "--password-stdin"], input="long-enough-pw\n")
    assert result.exit_code == 0, result.output
    op = session.scalar(select(Operator).where(Operator.login == "petr"))
    assert op.role == "billing" and op.name == "Petr Účetní" and op.email == "petr@priklad.net"
    assert op.password_hash.startswith("$argon2id$")
    assert verify_password(op.password_hash, "long-enough-pw")
    created = _events(session, "operator.created")
    assert [(e.actor, json.loads(e.details)["login"]) for e in created] == [("operator:jana", "petr")]

    listed = runner.invoke(args=["operators", "list"])
    assert "petr" in listed.output and "billing" in listed.output and "active" in listed.output

    assert runner.invoke(args=["operators", "disable", "petr"]).exit_code == 0
    session.rollback()
    session.expire_all()
    assert session.scalar(select(Operator.disabled_at).where(Operator.login == "petr"))
    assert "disabled" in runner.invoke(args=["operators", "list"]).output
    assert runner.invoke(args=["operators", "enable", "petr"]).exit_code == 0
    session.rollback()
    session.expire_all()
    assert session.scalar(select(Operator.disabled_at).where(Operator.login == "petr")) is None
    assert [e.actor for e in _events(session, "operator.disabled")] == ["operator:jana"]
    assert [e.actor for e in _events(session, "operator.enabled")] == ["operator:jana"]


def test_the_password_is_asked_twice(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["operators", "add", "eva", "--role", "support"],
                           input="long-enough-pw\nlong-enough-pw\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["operators", "add", "ota", "--role", "support"],
                           input="long-enough-pw\nanother-one-x\nlong-enough-pw\nlong-enough-pw\n")
    assert result.exit_code == 0 and "match" in result.output.lower()


def test_bad_operators_are_refused_and_nothing_is_written(app, session, operator):
    operator("admin", login="jana")
    runner = app.test_cli_runner()
    for args, said in [
        (["jana", "--role", "admin"], "exists already"),
        (["x y", "--role", "admin"], "login must be"),
        (["karel", "--role", "admin"], "at least 10"),
    ]:
        result = runner.invoke(args=["operators", "add", *args, "--password-stdin"],
                               input="short\n" if said == "at least 10" else "long-enough-pw\n")
        assert result.exit_code == 1, result.output
        assert said in result.output and "nothing was changed" in result.output
    result = runner.invoke(args=["operators", "add", "karel", "--role", "boss",
                                 "--password-stdin"], input="long-enough-pw\n")
    assert result.exit_code == 2
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Operator)) == 1
    assert _events(session, "operator.created") == []


def test_the_last_active_admin_cannot_be_disabled(app, session, operator):
    operator("admin", login="jana")
    operator("support", login="eva")
    result = app.test_cli_runner().invoke(args=["operators", "disable", "jana"])
    assert result.exit_code == 1 and "last active admin" in result.output
    session.rollback()
    session.expire_all()
    assert session.scalar(select(Operator.disabled_at).where(Operator.login == "jana")) is None


def test_reset_2fa_by_command_forgets_the_authenticator(browser, app, session, operator, console_login):
    op = operator("admin", login="jana", totp=True)
    client = browser(app)
    assert console_login(client, op).status_code == 302
    assert client.get("/console/").status_code == 200
    result = app.test_cli_runner().invoke(args=["operators", "reset-2fa", "jana"])
    assert result.exit_code == 0, result.output
    session.rollback()
    session.expire_all()
    again = session.get(Operator, op.id)
    assert not again.totp_enabled and again.totp_secret is None
    assert client.get("/console/").status_code == 302  # the session ended


def test_the_admin_manages_operators_in_the_console(console_client, session, operator):
    admin = console_client("admin")
    page = admin.get("/console/operators")
    assert page.status_code == 200
    response = admin.post("/console/operators", data={
        "login": "novy", "name": "Nový Kolega", "email": "novy@priklad.net", "role": "readonly",
        "password": "long-enough-pw", "password2": "long-enough-pw"})
    assert response.status_code == 302
    page = admin.get("/console/operators").get_data(as_text=True)
    assert "Operator novy added." in page and "Nový Kolega" in page
    new = session.scalar(select(Operator).where(Operator.login == "novy"))
    assert new.role == "readonly"
    assert [e.actor for e in _events(session, "operator.created")] == [admin.operator.actor]

    # a taken login: refused with its reason, nothing written
    response = admin.post("/console/operators", data={
        "login": "novy", "role": "admin", "password": "long-enough-pw",
        "password2": "long-enough-pw"}, follow_redirects=True)
    assert "exists already" in response.get_data(as_text=True)
    session.rollback()
    session.expire_all()
    assert session.scalar(select(Operator.role).where(Operator.login == "novy")) == "readonly"

    assert admin.post(f"/console/operators/{new.id}/disable").status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Operator, new.id).disabled_at is not None
    assert admin.post(f"/console/operators/{new.id}/enable").status_code == 302
    assert [e.actor for e in _events(session, "operator.disabled")] == [admin.operator.actor]

    other = operator("billing", totp=True)
    assert admin.post(f"/console/operators/{other.id}/reset-2fa").status_code == 302
    session.rollback()
    session.expire_all()
    assert not session.get(Operator, other.id).totp_enabled
    assert [e.actor for e in _events(session, "operator.2fa_reset")] == [admin.operator.actor]


def test_only_admins_see_the_operators_page(console_client):
    for role in ("billing", "support", "readonly"):
        client = console_client(role)
        assert client.get("/console/operators").status_code == 403
        assert "/console/operators" not in client.get("/console/").get_data(as_text=True)
    assert "/console/operators" in console_client("admin").get("/console/").get_data(as_text=True)


def test_the_demo_operators_log_in(browser, app, session):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    from console.demo import DEMO_TOTP_SECRET

    client = browser(app)
    response = client.post("/console/login", data={"login": "admin", "password": "demo-admin"})
    assert response.headers["Location"].startswith("/console/login/code")
    code = pyotp.TOTP(DEMO_TOTP_SECRET).now()  # what an authenticator app with README's secret shows
    response = client.post("/console/login/code", data={"code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    assert client.get("/console/operators").status_code == 200

    support = browser(app)
    response = support.post("/console/login", data={"login": "podpora", "password": "demo-podpora"})
    assert response.headers["Location"] == "/console/"
    assert support.get("/console/").status_code == 200
    assert support.get("/console/operators").status_code == 403
    # README prints the secret the demo uses
    from pathlib import Path

    assert DEMO_TOTP_SECRET in (Path(__file__).parents[2] / "README.md").read_text()

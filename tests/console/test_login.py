"""The console's login: password, sessions separate from customers', logout."""

from __future__ import annotations

from sqlalchemy import select

from billing.models import OperatorSession
from core.audit import AuditEvent


def test_an_operator_logs_in_and_out(app, client, operator, console_login, session):
    op = operator("support", name="Petra Podporová")
    assert client.get("/console/").headers["Location"].startswith("/console/login")
    response = console_login(client, op)
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Petra Podporová" in page.get_data(as_text=True)
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "operator.login")).all()
    assert [e.actor for e in events] == [f"operator:{op.login}"]
    cookie = client.get_cookie("ispzone_console", path="/console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    client.post("/console/logout")
    assert client.get("/console/").status_code == 302
    session.rollback()
    assert session.scalars(select(OperatorSession)).all() == []


def test_a_wrong_password_gets_nobody_in(client, operator, session):
    client.post("/language", data={"lang": "en"})
    op = operator("admin")
    response = client.post("/console/login", data={"login": op.login, "password": "wrong-one-x"})
    assert response.status_code == 200
    assert "Wrong login or password" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    response = client.post("/console/login", data={"login": "nobody", "password": "wrong-one-x"})
    assert "Wrong login or password" in response.get_data(as_text=True)


def test_a_disabled_operator_cannot_log_in_and_their_session_ends(client, operator, console_login,
                                                                  session):
    from billing import operators

    admin = operator("admin")
    op = operator("billing")
    assert console_login(client, op).status_code == 302
    assert client.get("/console/").status_code == 200
    operators.disable(session, session.merge(op), actor=admin.actor)
    session.commit()
    assert client.get("/console/").status_code == 302
    assert console_login(client, op).status_code == 200  # "wrong login or password"


def test_a_customers_session_is_not_an_operators(client, auth, make_customer, operator,
                                                 console_login):
    make_customer(number="1001", password="secret-pass")
    assert auth.login("1001", "secret-pass").status_code == 302
    assert client.get("/info").status_code == 200
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    # and an operator's console session does not open the client zone
    other = client.application.test_client()
    assert console_login(other, operator("admin")).status_code == 302
    assert other.get("/console/").status_code == 200
    assert other.get("/info").status_code == 302


def test_failed_logins_are_throttled_per_login(app, client, operator):
    app.config["LOGIN_ACCOUNT_FAILURES"] = "3/hour"
    op = operator("admin")
    for _ in range(3):
        assert client.post("/console/login",
                           data={"login": op.login, "password": "wrong-one-x"}).status_code == 200
    refused = client.post("/console/login", data={"login": op.login, "password": op.login})
    assert refused.status_code == 429
    # the right password is not even checked now
    refused = client.post("/console/login",
                          data={"login": op.login, "password": "operator-pass-1"})
    assert refused.status_code == 429

"""Two-factor login: enrolment (QR code, secret, confirmation), a wrong and a replayed code
refused, recovery codes single-use, throttling, required roles; the allowed networks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from billing import operators
from billing.models import Operator, OperatorRecoveryCode
from core.audit import AuditEvent

PASSWORD = "operator-pass-1"


@pytest.fixture
def make_app(app_config):
    """``make_app(**settings)``: the app with these settings (disposed after the test)."""
    from app import create_app

    made = []

    def make(**settings):
        application = create_app({**app_config, **settings})
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["ispzone.engine"].dispose()


def _fresh(session):
    session.rollback()
    session.expire_all()


def _password(client, op):
    return client.post("/console/login", data={"login": op.login, "password": PASSWORD})


# -- the domain: codes and time steps -------------------------------------------------------------


def test_codes_one_step_either_side_are_accepted_once(session, operator):
    op = operator("admin", totp=True)
    totp = pyotp.TOTP(op.totp_secret)
    moment = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    step = int(moment.timestamp()) // 30
    assert not operators.verify_second_factor(session, op, totp.generate_otp(step - 2),
                                              moment=moment)
    assert not operators.verify_second_factor(session, op, totp.generate_otp(step + 2),
                                              moment=moment)
    assert not operators.verify_second_factor(session, op, "12345", moment=moment)
    assert operators.verify_second_factor(session, op, totp.generate_otp(step - 1), moment=moment)
    # the same code again (a replay) and an older one are refused; a newer one is fine
    assert not operators.verify_second_factor(session, op, totp.generate_otp(step - 1),
                                              moment=moment)
    assert operators.verify_second_factor(session, op, totp.generate_otp(step), moment=moment)
    assert not operators.verify_second_factor(session, op, totp.generate_otp(step - 1),
                                              moment=moment + timedelta(seconds=1))
    assert not operators.verify_second_factor(session, op, totp.generate_otp(step),
                                              moment=moment + timedelta(seconds=15))
    assert operators.verify_second_factor(session, op, totp.generate_otp(step + 1),
                                          moment=moment + timedelta(seconds=15))
    assert op.totp_last_step == step + 1


# -- enrolment and login --------------------------------------------------------------------------


def test_enrolment_then_login_with_a_code_and_recovery_codes(browser, app, session, operator,
                                                              console_login):
    op = operator("support", login="eva")
    client = browser(app)
    assert console_login(client, op).status_code == 302  # no second factor yet: straight in
    page = client.get("/console/2fa")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html
    _fresh(session)
    secret = session.get(Operator, op.id).totp_secret
    assert secret and re.sub(r"\s", "", re.search(r'id="totp-secret">([^<]+)<', html)[1]) == secret
    totp = pyotp.TOTP(secret)
    now_step = int(datetime.now(UTC).timestamp()) // 30

    # a wrong code: refused, nothing on
    wrong = totp.generate_otp(now_step + 5)
    response = client.post("/console/2fa", data={"code": wrong})
    assert response.status_code == 200 and "The code is wrong" in response.get_data(as_text=True)
    _fresh(session)
    assert not session.get(Operator, op.id).totp_enabled

    # the right one: on, and ten recovery codes shown once
    code = totp.generate_otp(now_step)
    response = client.post("/console/2fa", data={"code": code})
    html = response.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)
    assert response.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    _fresh(session)
    assert session.get(Operator, op.id).totp_enabled
    stored = session.scalars(select(OperatorRecoveryCode.code_hash)
                             .where(OperatorRecoveryCode.operator_id == op.id)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)
    assert "<li><code>" not in client.get("/console/2fa").get_data(as_text=True)
    assert session.scalar(select(AuditEvent.actor).where(
        AuditEvent.action == "operator.2fa_enrolled")) == "operator:eva"

    # next login: the password alone does not get in
    client.post("/console/logout")
    response = _password(client, op)
    assert response.headers["Location"].startswith("/console/login/code")
    assert client.get("/console/").headers["Location"].startswith("/console/login/code")
    # the code used at enrolment is spent (a replay of the same time step)
    response = client.post("/console/login/code", data={"code": code})
    assert "wrong or was used already" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    # a wrong code
    response = client.post("/console/login/code", data={"code": wrong})
    assert "wrong or was used already" in response.get_data(as_text=True)
    # a recovery code gets in, once
    response = client.post("/console/login/code", data={"code": codes[0].upper()})
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    client.post("/console/logout")
    _password(client, op)
    response = client.post("/console/login/code", data={"code": codes[0]})
    assert "wrong or was used already" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    response = client.post("/console/login/code", data={"code": codes[1].replace("-", " ")})
    assert response.status_code == 302
    _fresh(session)
    used = session.scalars(select(AuditEvent.details).where(
        AuditEvent.action == "operator.recovery_code_used")).all()
    assert len(used) == 2 and '"left": 8' in used[-1]


def test_a_replayed_code_is_refused_at_login(browser, app, session, operator, totp_code):
    op = operator("admin", totp=True)
    first, second = browser(app), browser(app)
    code = totp_code(op)
    _password(first, op)
    assert first.post("/console/login/code", data={"code": code}).status_code == 302
    assert first.get("/console/").status_code == 200
    # someone who saw the code (and knows the password) in another browser
    _password(second, op)
    response = second.post("/console/login/code", data={"code": code})
    assert response.status_code == 200
    assert "wrong or was used already" in response.get_data(as_text=True)
    assert second.get("/console/").status_code == 302


def test_wrong_codes_are_throttled(browser, make_app, session, operator, totp_code):
    app = make_app(CONSOLE_TOTP_FAILURES="3/hour")
    op = operator("admin", totp=True)
    client = browser(app)
    _password(client, op)
    for _ in range(3):
        assert client.post("/console/login/code", data={"code": "000000"}).status_code == 200
    response = client.post("/console/login/code", data={"code": totp_code(op)})
    assert response.status_code == 429
    assert client.get("/console/").status_code == 302


def test_the_session_token_changes_with_the_second_factor(browser, app, operator, totp_code):
    op = operator("admin", totp=True)
    client = browser(app)
    _password(client, op)
    before = client.get_cookie("ispzone_console", path="/console").value
    client.post("/console/login/code", data={"code": totp_code(op)})
    after = client.get_cookie("ispzone_console", path="/console").value
    assert before != after
    stolen = browser(app)
    stolen.set_cookie("ispzone_console", before, path="/console")
    assert stolen.get("/console/").status_code == 302


def test_required_roles_must_enrol_before_anything_else(browser, make_app, session, operator, totp_code):
    app = make_app(CONSOLE_TOTP_REQUIRED="admin,billing")
    op = operator("billing")
    client = browser(app)
    response = _password(client, op)
    assert response.headers["Location"] == "/console/2fa"
    assert client.get("/console/").headers["Location"] == "/console/2fa"
    assert client.get("/console/operators").headers["Location"] == "/console/2fa"
    assert client.get("/console/2fa").status_code == 200
    _fresh(session)
    secret = session.get(Operator, op.id).totp_secret
    response = client.post("/console/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "recovery" in response.get_data(as_text=True).lower()
    assert client.get("/console/").status_code == 200
    # support is not required to
    _fresh(session)
    support = browser(app)
    assert _password(support, operator("support")).headers["Location"] == "/console/"


def test_required_in_production_for_admin_and_billing():
    from console.auth import parse_required_roles

    assert parse_required_roles("auto", {"ISPZONE_ENV": "production"}) == {"admin", "billing"}
    assert parse_required_roles("auto", {"ISPZONE_ENV": "development"}) == set()
    assert parse_required_roles("auto", {"TESTING": True}) == set()
    assert parse_required_roles("", {"ISPZONE_ENV": "production"}) == set()
    assert parse_required_roles("support", {}) == {"support"}


# -- allowed networks -------------------------------------------------------------------------


def test_other_networks_get_403_on_every_console_url(browser, make_app, operator, console_login):
    app = make_app(CONSOLE_ALLOWED_NETWORKS="192.0.2.0/24, 2001:db8::/32")
    op = operator("admin")
    outside = browser(app)
    for path in ("/console/login", "/console/", "/console/operators", "/console/2fa"):
        assert outside.get(path).status_code == 403, path
    assert outside.post("/console/login", data={"login": op.login,
                                                 "password": PASSWORD}).status_code == 403
    assert outside.get("/login").status_code == 200  # the client zone is not affected
    inside = browser(app)
    inside.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert console_login(inside, op).status_code == 302
    assert inside.get("/console/").status_code == 200
    v6 = browser(app)
    v6.environ_base["REMOTE_ADDR"] = "2001:db8::5"
    assert v6.get("/console/login").status_code == 200


def test_the_address_is_the_one_proxy_fix_reports(browser, make_app):
    app = make_app(CONSOLE_ALLOWED_NETWORKS="192.0.2.0/24", PROXY_FIX="x_for=1")
    client = browser(app)  # the proxy itself is 127.0.0.1
    assert client.get("/console/login").status_code == 403
    assert client.get("/console/login",
                      headers={"X-Forwarded-For": "192.0.2.9"}).status_code == 200
    assert client.get("/console/login",
                      headers={"X-Forwarded-For": "192.0.2.9, 198.51.100.1"}).status_code == 403


def test_a_malformed_network_stops_the_start(make_app):
    from web.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="CONSOLE_ALLOWED_NETWORKS"):
        make_app(CONSOLE_ALLOWED_NETWORKS="10.0.0.0/33")

"""Login, logout, sessions, throttling and password reset, as a customer experiences them."""

from __future__ import annotations

import re

import pytest
import time_machine
from sqlalchemy import func, select

from billing.models import AuditEvent, UserSession
from core.clock import now


@pytest.fixture
def jana(make_customer):
    return make_customer(number="2001", password="correct-horse-1", email="jana@example.cz")


def session_cookie(client) -> str:
    cookie = client.get_cookie("ispzone_session")
    return cookie.value if cookie else ""


def test_login_and_logout(auth, client, jana):
    assert client.get("/info").status_code == 302
    r = auth.login("2001", "correct-horse-1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    assert client.get("/info").status_code == 200
    r = client.post("/logout")
    assert r.status_code == 302
    assert client.get("/info").status_code == 302


def english(client):
    client.post("/language", data={"lang": "en", "next": "/login"})


def flash_texts(response) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', response.get_data(as_text=True))


def test_wrong_number_and_wrong_password_look_the_same(auth, client, jana):
    czech_wrong = auth.login("2001", "nope")
    czech_unknown = auth.login("9999", "nope")
    assert flash_texts(czech_wrong) == flash_texts(czech_unknown) != []
    english(client)
    wrong_password = auth.login("2001", "nope")
    unknown_number = auth.login("9999", "nope")
    assert wrong_password.status_code == unknown_number.status_code == 200
    msg = "Wrong customer number or password."
    assert msg in wrong_password.get_data(as_text=True)
    assert msg in unknown_number.get_data(as_text=True)
    assert client.get("/info").status_code == 302


def test_session_fixation_is_prevented(auth, client, jana):
    client.get("/login")
    client.post("/language", data={"lang": "en", "next": "/login"})
    before = session_cookie(client)
    assert before
    auth.login("2001", "correct-horse-1")
    after = session_cookie(client)
    assert after and after != before
    # the pre-login cookie does not carry the login
    other = client.application.test_client()
    other.set_cookie("ispzone_session", before)
    assert other.get("/info").status_code == 302


def test_cookie_replayed_after_logout_is_rejected(auth, app, client, jana):
    auth.login("2001", "correct-horse-1")
    captured = session_cookie(client)
    client.post("/logout")
    thief = app.test_client()
    thief.set_cookie("ispzone_session", captured)
    assert thief.get("/info").status_code == 302


def test_cookie_flags(auth, app, client, jana):
    r = auth.login("2001", "correct-horse-1")
    set_cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("ispzone_session=")]
    assert set_cookie
    assert "HttpOnly" in set_cookie[0] and "SameSite=Lax" in set_cookie[0]
    assert "Secure" not in set_cookie[0]  # plain HTTP here
    https = app.test_client()
    r = https.post(
        "/login",
        data={"customer_number": "2001", "password": "correct-horse-1"},
        base_url="https://localhost",
    )
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("ispzone_session=")][0]
    assert "Secure" in cookie


def test_session_row_is_created_and_removed(auth, client, session, jana):
    auth.login("2001", "correct-horse-1")
    assert session.scalar(select(func.count(UserSession.id))) == 1
    client.post("/logout")
    session.rollback()  # end the read snapshot to see the app's commits
    assert session.scalar(select(func.count(UserSession.id))) == 0


def test_idle_session_expires(auth, app, client, jana):
    auth.login("2001", "correct-horse-1")
    with time_machine.travel(now().timestamp() + 3 * 3600, tick=False):
        assert client.get("/info").status_code == 302


def test_account_throttle_stops_guessing_but_not_the_real_customer(auth, app, jana):
    app.config["LOGIN_ACCOUNT_FAILURES"] = "5/hour"
    app.config["LOGIN_IP_FAILURES"] = "1000/hour"
    customer_browser = app.test_client()
    # the real customer has logged in from this browser before
    assert auth.login("2001", "correct-horse-1", client=customer_browser).status_code == 302
    customer_browser.post("/logout")

    attacker = app.test_client()
    for _ in range(5):
        assert auth.login("2001", "guess", client=attacker).status_code == 200
    # the account limit is spent: the password is no longer even checked
    r = auth.login("2001", "correct-horse-1", client=attacker)
    assert r.status_code == 429
    assert attacker.get("/info").status_code == 302
    # an unknown account number behaves exactly the same
    for _ in range(5):
        auth.login("2999", "guess", client=attacker)
    assert auth.login("2999", "guess", client=attacker).status_code == 429
    # ... while the customer's own browser still gets in
    assert auth.login("2001", "correct-horse-1", client=customer_browser).status_code == 302
    assert customer_browser.get("/info").status_code == 200


def test_default_account_limit_is_100_per_hour(auth, app, jana, monkeypatch):
    app.config["LOGIN_IP_FAILURES"] = "10000/hour"
    verified = []
    from billing.customers import credentials as cred
    real = cred.verify_password
    monkeypatch.setattr(cred, "verify_password", lambda h, p: verified.append(1) or real(h, p))
    attacker = app.test_client()
    for _ in range(120):
        auth.login("2001", "guess", client=attacker)
    assert len(verified) == 100


def test_ip_throttle(auth, app, jana):
    app.config["LOGIN_IP_FAILURES"] = "3/minute"
    c = app.test_client()
    codes = [auth.login(str(3000 + i), "x", client=c).status_code for i in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


def _reset_link(outbox) -> str:
    body = outbox.messages()[-1].get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/password/reset/\S+)", body).group(1)


def test_password_reset_flow(auth, app, client, jana, outbox, session):
    other_browser = app.test_client()
    auth.login("2001", "correct-horse-1", client=other_browser)
    r = client.post("/password/forgot", data={"customer_number": "2001"})
    assert r.status_code == 302
    assert outbox.messages()[-1]["To"] == "jana@example.cz"
    link = _reset_link(outbox)
    assert client.get(link).status_code == 200
    r = client.post(link, data={"password": "brand-new-pass", "confirm": "brand-new-pass"})
    assert r.status_code == 302
    # the reset ended the other sessions
    assert other_browser.get("/info").status_code == 302
    assert auth.login("2001", "correct-horse-1").status_code == 200
    assert auth.login("2001", "brand-new-pass").status_code == 302
    # single use
    client.post("/logout")
    assert client.get(link).status_code == 404
    r = client.post(link, data={"password": "another-pass-1", "confirm": "another-pass-1"})
    assert r.status_code == 404
    session.rollback()  # end the read snapshot to see the app's commits
    assert session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "password.changed")
    ) == 1


def test_reset_token_expires_after_an_hour(client, jana, outbox):
    client.post("/password/forgot", data={"customer_number": "2001"})
    link = _reset_link(outbox)
    with time_machine.travel(now().timestamp() + 3601, tick=False):
        assert client.get(link).status_code == 404


def test_forgot_password_same_answer_for_unknown_account(client, jana, outbox):
    english(client)
    known = client.post("/password/forgot", data={"customer_number": "2001"}, follow_redirects=True)
    unknown = client.post("/password/forgot", data={"customer_number": "7777"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    text = "If the customer number exists"
    assert text in known.get_data(as_text=True) and text in unknown.get_data(as_text=True)
    assert len(outbox.messages()) == 1


def test_reset_token_is_stored_hashed(client, jana, outbox, session):
    from billing.models import PasswordResetToken

    client.post("/password/forgot", data={"customer_number": "2001"})
    token = _reset_link(outbox).rsplit("/", 1)[1]
    stored = session.scalars(select(PasswordResetToken.token_hash)).all()
    assert stored and token not in stored


def test_change_password_keeps_this_session_and_ends_others(auth, app, client, jana):
    other = app.test_client()
    auth.login("2001", "correct-horse-1", client=other)
    auth.login("2001", "correct-horse-1")
    r = client.post(
        "/password",
        data={"current": "correct-horse-1", "password": "new-password-9", "confirm": "new-password-9"},
    )
    assert r.status_code == 302
    assert client.get("/info").status_code == 200
    assert other.get("/info").status_code == 302


def test_change_password_wrong_current(auth, client, jana):
    auth.login("2001", "correct-horse-1")
    english(client)
    r = client.post(
        "/password", data={"current": "bad", "password": "new-password-9", "confirm": "new-password-9"}
    )
    assert r.status_code == 200 and "The current password is wrong." in r.get_data(as_text=True)


def test_open_redirect_is_refused(client, jana):
    r = client.post(
        "/login?next=//evil.example/x", data={"customer_number": "2001", "password": "correct-horse-1"}
    )
    assert r.headers["Location"] == "/"


def test_throttle_counters_live_in_redis_when_configured(auth, need, app_config, make_customer):
    """With REDIS_URL the failure counters live in the Redis server (shared by all workers)."""
    import os
    import uuid

    from app import create_app

    redis_url = os.environ.get("TEST_REDIS_URL")
    need(redis_url is not None, "TEST_REDIS_URL (Redis) is not set")
    make_customer(number="2001", password="correct-horse-1")
    config = {
        **app_config,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "LOGIN_ACCOUNT_FAILURES": "3/hour",
    }
    import redis

    server = redis.Redis.from_url(redis_url)
    pattern = f"*{config['RATELIMIT_KEY_PREFIX']}*"
    app = create_app(config)
    try:
        for _ in range(3):
            assert auth.login("2001", "guess", client=app.test_client()).status_code == 200
        assert auth.login("2001", "correct-horse-1", client=app.test_client()).status_code == 429
        assert any(b"login-fail-account" in k for k in server.keys(pattern))
    finally:
        for key in server.keys(pattern):
            server.delete(key)
        app.extensions["ispzone.engine"].dispose()


def test_guessing_the_current_password_is_throttled_like_a_login(auth, app, client, jana):
    """A stolen session cookie does not give unlimited guesses at the password."""
    app.config["LOGIN_DEVICE_FAILURES"] = "3/hour"  # this browser logged in: a known device
    app.config["LOGIN_ACCOUNT_FAILURES"] = "3/hour"
    auth.login("2001", "correct-horse-1")
    english(client)
    guess = {"current": "bad", "password": "new-password-9", "confirm": "new-password-9"}
    for _ in range(3):
        assert client.post("/password", data=guess).status_code == 200
    right = {**guess, "current": "correct-horse-1"}
    r = client.post("/password", data=right)
    assert r.status_code == 429 and "Too many failed attempts" in r.get_data(as_text=True)

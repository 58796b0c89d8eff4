"""VoIP zone login as a customer (and an attacker) experiences it: the last digits of the
number and the VoIP password, the full number when digits are shared, one answer for every
failure, throttling of suffix spraying, sessions independent of the client zone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from billing.models import UserSession


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "VOIP_LOGIN_IP_FAILURES": "6/minute",
        "VOIP_LOGIN_SUFFIX_FAILURES": "4/hour",
        "VOIP_LOGIN_GLOBAL_FAILURES": "15/hour",
    }


@pytest.fixture
def cheap_dummy(cheap_hash, monkeypatch):
    """Unknown suffixes are verified against a dummy hash (so that timing does not tell);
    a cheap one keeps the spraying tests quick. The verification itself still runs."""
    from core import passwords

    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap_hash("dummy-" + "x" * 8))


@pytest.fixture
def line(make_line, make_customer):
    customer = make_customer(number="3001", password="zone-pass-1")
    return make_line("+420601234567", password="voip-pass", customer=customer)


def voip_sessions(session) -> list[UserSession]:
    session.rollback()  # a fresh snapshot: see what the app committed
    return session.scalars(select(UserSession).where(UserSession.kind == "voip")).all()


def test_login_with_suffix_and_logout(voip_auth, client, session, line):
    assert client.get("/voip/").status_code == 302
    r = voip_auth.login("567", "voip-pass")
    assert r.status_code == 302 and r.headers["Location"].endswith("/voip/")
    page = client.get("/voip/")
    assert page.status_code == 200 and "+420 601 234 567" in page.get_data(as_text=True)
    (row,) = voip_sessions(session)
    assert row.service_id == line.id and row.customer_id == line.customer_id
    assert client.get("/voip/logout").status_code == 405  # GET changes nothing
    assert client.get("/voip/").status_code == 200
    r = client.post("/voip/logout")
    assert r.status_code == 302 and r.headers["Location"].endswith("/voip/login")
    assert voip_sessions(session) == []
    assert client.get("/voip/").status_code == 302


def test_unknown_suffix_and_wrong_password_get_the_same_answer(flash_texts, voip_auth, client, line):
    wrong_password = voip_auth.login("567", "nope")
    unknown_suffix = voip_auth.login("999", "nope")
    malformed = voip_auth.login("5x7", "nope")
    assert wrong_password.status_code == unknown_suffix.status_code == malformed.status_code == 200
    texts = flash_texts(wrong_password)
    assert texts == flash_texts(unknown_suffix) == flash_texts(malformed) == [
        "Nesprávné číslo nebo heslo."
    ]
    client.post("/language", data={"lang": "en", "next": "/voip/login"})
    assert flash_texts(voip_auth.login("567", "nope")) == ["Wrong phone number or password."]
    assert flash_texts(voip_auth.login("998", "nope")) == ["Wrong phone number or password."]
    assert client.get("/voip/").status_code == 302


def test_an_ended_line_cannot_log_in(flash_texts, voip_auth, client, make_line):
    make_line("+420601000111", valid_to=date(2025, 1, 31))
    r = voip_auth.login("111", "voip-pass")
    assert flash_texts(r) == ["Nesprávné číslo nebo heslo."]


def test_shared_suffix_asks_for_the_full_number(flash_texts, voip_auth, client, session, make_line, make_customer):
    first = make_line("+420321720106", password="first-pass")
    second = make_line("+420327512106", password="second-pass")
    make_line("+420325000106", password="ended-pass", valid_to=date(2025, 1, 1))  # not counted
    # the password is not tried against either line: the right one does not get in either
    r = voip_auth.login("106", "second-pass")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'name="number"' in html
    assert "Zadejte celé telefonní číslo" in " ".join(flash_texts(r))
    assert client.get("/voip/").status_code == 302
    # the full number, typed as people type it
    r = voip_auth.login("106", "second-pass", number="327 512 106")
    assert r.status_code == 302
    assert voip_sessions(session)[0].service_id == second.id
    client.post("/voip/logout", follow_redirects=True)
    # a full number that is not the suffix's, or another line's password: the one answer
    assert flash_texts(voip_auth.login("106", "first-pass", number="+420 327 512 106")) == [
        "Nesprávné číslo nebo heslo."
    ]
    assert flash_texts(voip_auth.login("106", "first-pass", number="+420601234567")) == [
        "Nesprávné číslo nebo heslo."
    ]
    assert voip_auth.login("106", "first-pass", number="00420321720106").status_code == 302
    assert voip_sessions(session)[0].service_id == first.id


def test_suffix_spraying_from_one_address_is_stopped(flash_texts, voip_auth, client, line, cheap_dummy):
    for suffix in range(100, 106):  # 6 failures: the IP limit
        assert voip_auth.login(str(suffix), "guess").status_code == 200
    r = voip_auth.login("567", "voip-pass")  # even the right password
    assert r.status_code == 429
    assert flash_texts(r) == ["Příliš mnoho neúspěšných pokusů. Chvíli počkejte a zkuste to znovu."]
    other = client.application.test_client()
    r = voip_auth.login("567", "voip-pass", environ_base={"REMOTE_ADDR": "192.0.2.77"}, client=other)
    assert r.status_code == 302


def test_one_suffix_from_many_addresses_is_stopped(voip_auth, app, line, make_line):
    make_line("+420602000444", password="other-pass")
    for i in range(4):  # 4 failures on one suffix, each from its own address
        c = app.test_client()
        r = voip_auth.login("567", "guess", environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}, client=c)
        assert r.status_code == 200
    c = app.test_client()
    r = voip_auth.login("567", "voip-pass", environ_base={"REMOTE_ADDR": "198.51.100.200"}, client=c)
    assert r.status_code == 429
    # another suffix is not affected
    r = voip_auth.login("444", "other-pass", environ_base={"REMOTE_ADDR": "198.51.100.201"}, client=c)
    assert r.status_code == 302


def test_global_limit_slows_distributed_spraying_down(voip_auth, app, line, cheap_dummy,
                                                    monkeypatch):
    """Issue 13 item 5: the global limit used to refuse (429) everyone's correct login; it
    now slows unknown browsers down instead (tests/voip/test_spray.py has the whole story)."""
    from web import throttle

    delays: list[float] = []
    monkeypatch.setattr(throttle, "sleep", delays.append)
    for i in range(15):  # each address and each suffix below its own limit
        c = app.test_client()
        voip_auth.login(f"{100 + i}", "guess", environ_base={"REMOTE_ADDR": f"203.0.113.{i}"}, client=c)
    assert delays == []
    c = app.test_client()
    r = voip_auth.login("567", "voip-pass", environ_base={"REMOTE_ADDR": "203.0.113.250"}, client=c)
    assert r.status_code == 302 and delays == [0.5]


def test_zone_and_voip_logins_are_independent(auth, voip_auth, client, session, line):
    # VoIP login does not open the client zone
    assert voip_auth.login("567", "voip-pass").status_code == 302
    assert client.get("/info").status_code == 302
    # issue 16: a client-zone login enters the VoIP zone of the customer's own (one) line
    # without a second login, in a VoIP session of its own
    other = client.application.test_client()
    assert auth.login("3001", "zone-pass-1", client=other).status_code == 302
    assert other.get("/info").status_code == 200
    assert other.get("/voip/").status_code == 200
    session.rollback()
    kinds = sorted(r.kind for r in session.scalars(select(UserSession)))
    assert kinds == ["voip", "voip", "zone"]
    # VoIP logout ends only the VoIP session; the client zone stays logged in
    other.post("/voip/logout")
    assert other.get("/info").status_code == 200
    # logging out of the client zone ends the VoIP session entered from it
    assert other.get("/voip/").status_code == 200
    other.post("/logout")
    assert other.get("/voip/").status_code == 302
    assert other.get("/info").status_code == 302
    session.rollback()
    kinds = sorted(r.kind for r in session.scalars(select(UserSession)))
    assert kinds == ["voip"]  # only the first browser's VoIP login is left


def test_each_login_gets_a_fresh_token(voip_auth, client, session, line):
    voip_auth.login("567", "voip-pass")
    first = client.get_cookie("ispzone_session").value
    voip_auth.login("567", "voip-pass", query_string={})  # logged in: redirected, no new row
    client.post("/voip/logout")
    voip_auth.login("567", "voip-pass")
    assert len(voip_sessions(session)) == 1
    thief = client.application.test_client()
    thief.set_cookie("ispzone_session", first)
    assert thief.get("/voip/").status_code == 302  # the token of the ended session is dead


def test_next_stays_in_the_voip_zone(voip_auth, client, line):
    r = client.get("/voip/topup")  # (the price lookup, /voip/tariff, is public: issue 16)
    assert r.status_code == 302 and "/voip/login?next=" in r.headers["Location"]
    r = voip_auth.login("567", "voip-pass", query_string={"next": "/voip/topup"})
    assert r.headers["Location"].endswith("/voip/topup")
    client.post("/voip/logout")
    r = voip_auth.login("567", "voip-pass", query_string={"next": "//evil.example/voip/"})
    assert r.headers["Location"].endswith("/voip/")
    assert "evil" not in r.headers["Location"]


def test_csrf_is_required_on_every_post(auth, voip_auth, app_config, line):
    from app import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    c = app.test_client()
    assert voip_auth.login("567", "voip-pass", client=c).status_code == 400
    html = c.get("/voip/login").get_data(as_text=True)
    r = c.post("/voip/login", data={"suffix": "567", "password": "voip-pass", "csrf_token": auth.csrf_token(html)})
    assert r.status_code == 302
    assert c.post("/voip/logout").status_code == 400  # no token: still logged in
    assert c.get("/voip/").status_code == 200
    for path in ("/voip/threshold", "/voip/topup/confirm"):
        assert c.post(path, data={"threshold": "10"}).status_code == 400
    app.extensions["ispzone.engine"].dispose()


def test_login_page_is_czech_and_english_on_request(client):
    html = client.get("/voip/login").get_data(as_text=True)
    assert "Přihlášení do VoIP zóny" in html and "Heslo k VoIP" in html
    client.post("/language", data={"lang": "en", "next": "/voip/login"})
    html = client.get("/voip/login").get_data(as_text=True)
    assert "Log in to the VoIP zone" in html and "VoIP password" in html


def test_no_session_rows_from_failed_logins(voip_auth, client, session, line):
    for _ in range(3):
        voip_auth.login("567", "bad")
    session.rollback()
    assert session.scalar(select(func.count(UserSession.id))) == 0

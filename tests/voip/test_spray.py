"""Suffix spraying must not lock the owners out (issue 13, item 5).

After 300 failures an hour (from anyone; two addresses sufficed) every VoIP customer's
correct login got 429. Now a browser that logged in to the line before (a signed device
cookie, as in the client zone) is counted on its own, not per suffix; the limit over all
suffixes slows unknown browsers down (a growing, capped delay) instead of refusing them.
"""

from __future__ import annotations

import pytest

from web import throttle

ATTACKERS = ("203.0.113.66", "198.51.100.99")
OWNER_IP = "192.0.2.10"


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "VOIP_LOGIN_IP_FAILURES": "1000/hour",
        "VOIP_LOGIN_SUFFIX_FAILURES": "5/hour",
        "VOIP_LOGIN_DEVICE_FAILURES": "3/hour",
        "VOIP_LOGIN_GLOBAL_FAILURES": "20/hour",
    }


@pytest.fixture
def cheap_dummy(monkeypatch):
    from core import passwords
    from tests.voip.conftest import cheap_hash

    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap_hash("dummy-" + "x" * 8))


@pytest.fixture
def delays(monkeypatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(throttle, "sleep", waited.append)
    return waited


@pytest.fixture
def lines(make_line, make_customer):
    owner = make_line("+420601234567", password="owner-pass",
                      customer=make_customer(number="3101"))
    other = make_line("+420602000444", password="other-pass",
                      customer=make_customer(number="3102"))
    return owner, other


def owner_browser(app, voip_auth):
    """The owner's browser: it has logged in to the line once (and out again)."""
    browser = app.test_client()
    response = voip_auth.login("567", "owner-pass", environ_base={"REMOTE_ADDR": OWNER_IP}, client=browser)
    assert response.status_code == 302
    assert browser.get_cookie(f"{throttle.DEVICE_COOKIE}_voip") is not None
    assert browser.post("/voip/logout").status_code == 302
    return browser


def spray(app, voip_auth, count: int, suffixes=range(100, 999), owner=True) -> list[int]:
    """``count`` failed attempts from two addresses over many suffixes, every fourth on the
    owner's suffix when ``owner``."""
    codes = []
    attacker = app.test_client()
    suffixes = list(suffixes)
    for i in range(count):
        suffix = "567" if owner and i % 4 == 0 else str(suffixes[i % len(suffixes)])
        codes.append(voip_auth.login(suffix, "guess",
                                environ_base={"REMOTE_ADDR": ATTACKERS[i % 2]}, client=attacker).status_code)
    return codes


def test_after_a_spray_the_owner_and_a_new_browser_still_get_in(voip_auth, app, lines, cheap_dummy, delays):
    browser = owner_browser(app, voip_auth)
    codes = spray(app, voip_auth, 60)  # 3x the global limit; the owner's suffix far beyond its own
    assert 429 in codes  # the owner's suffix is refused to unknown browsers
    assert delays and max(delays) > 0  # the spray itself was slowed down
    delays.clear()

    # the owner's browser: not refused for the suffix, not slowed down
    response = voip_auth.login("567", "owner-pass", environ_base={"REMOTE_ADDR": OWNER_IP}, client=browser)
    assert response.status_code == 302
    assert delays == []

    # a browser never seen before, on a line whose suffix was sprayed a little: slower, not 429
    fresh = app.test_client()
    response = voip_auth.login("444", "other-pass", environ_base={"REMOTE_ADDR": "192.0.2.11"}, client=fresh)
    assert response.status_code == 302
    assert len(delays) == 1 and delays[0] > 0


def test_the_delay_grows_and_is_capped(voip_auth, app, lines, cheap_dummy, delays):
    app.config["VOIP_LOGIN_GLOBAL_DELAY_MAX"] = 3
    codes = spray(app, voip_auth, 100, owner=False)
    assert set(codes) == {200}
    assert delays[0] == 0.5 and max(delays) == 3
    assert delays == sorted(delays)  # never shrinks within the hour
    assert len(delays) == 100 - 20  # every attempt beyond the limit waited, none before


def test_known_browser_is_counted_on_its_own(voip_auth, app, lines, cheap_dummy, delays):
    browser = owner_browser(app, voip_auth)
    for _ in range(3):  # the device's own limit
        r = voip_auth.login("567", "typo", environ_base={"REMOTE_ADDR": OWNER_IP}, client=browser)
        assert r.status_code == 200
    r = voip_auth.login("567", "owner-pass", environ_base={"REMOTE_ADDR": OWNER_IP}, client=browser)
    assert r.status_code == 429
    # ... which did not count against the suffix: an unknown browser may still try
    fresh = app.test_client()
    r = voip_auth.login("567", "owner-pass", environ_base={"REMOTE_ADDR": "192.0.2.12"}, client=fresh)
    assert r.status_code == 302


def test_a_cookie_of_another_line_or_a_forged_one_is_no_exemption(voip_auth, app, lines, cheap_dummy):
    browser = owner_browser(app, voip_auth)  # knows ...567, not ...444
    for i in range(5):
        voip_auth.login("444", "guess", environ_base={"REMOTE_ADDR": f"203.0.113.{i}"}, client=app.test_client())
    r = voip_auth.login("444", "other-pass", environ_base={"REMOTE_ADDR": OWNER_IP}, client=browser)
    assert r.status_code == 429

    forged = app.test_client()
    forged.set_cookie(f"{throttle.DEVICE_COOKIE}_voip", "eyJhIjoiKzQyMDYwMjAwMDQ0NCIsIm4iOiJ4In0.bad")
    r = voip_auth.login("444", "other-pass", environ_base={"REMOTE_ADDR": "192.0.2.13"}, client=forged)
    assert r.status_code == 429

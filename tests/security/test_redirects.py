"""Issue 13, item 2: no open redirect after login, at any door.

``POST /login?next=%2F%09%2Fevil.example`` answered ``Location: //evil.example`` (the check ran
before Werkzeug stripped the tab), and a ``next`` with a newline gave 500. Every door (the
client zone's login and language switch, the VoIP zone's login) uses web.redirects.safe_next.
"""

from __future__ import annotations

import pytest

from web.redirects import is_safe_next

# Known bypasses of naive "starts with /" checks: browsers drop tabs/CR/LF, read "\" as "/",
# take "//" and "/\" as another host; percent-encoded, doubly encoded and Unicode look-alikes.
BYPASSES = [
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "%2F%09%2Fevil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/\r/evil.example",
    "/%0d/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "/\r\nSet-Cookie: x=1",
    "/ /evil.example",
    " //evil.example",
    "/%20/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "/%255C%255Cevil.example",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "/javascript:alert(1)\\",
    "data:text/html,<script>alert(1)</script>",
    "http://evil.example",
    "https://evil.example",
    "http:/evil.example",
    "https:evil.example",
    "http:\\\\evil.example",
    "ftp://evil.example",
    "evil.example",
    "\\\\evil.example\\share",
    "/\uff0f/evil.example",  # fullwidth solidus
    "\uff0f\uff0fevil.example",
    "/%EF%BC%8F/evil.example",
    "/\u3002evil.example",  # ideographic full stop
    "/\u2215\u2215evil.example",  # division slash
    "/\u2028/evil.example",
    "/\x00/evil.example",
    "/%00/evil.example",
    "/\x7f/evil.example",
    "/" + "a" * 5000,
    "",
]
GOOD = ["/", "/invoices", "/invoices?page=2", "/traffic?from=2026-01-01&to=2026-01-31",
        "/info#top", "/voip/", "/voip/topup", "/voip/?page=3"]


@pytest.mark.parametrize("target", BYPASSES)
def test_bypass_is_refused(target):
    assert not is_safe_next(target)
    assert not is_safe_next(target, prefix="/voip/")


@pytest.mark.parametrize("target", GOOD)
def test_local_paths_are_kept(target):
    assert is_safe_next(target)


def test_voip_door_keeps_to_its_zone():
    assert is_safe_next("/voip/topup", prefix="/voip/")
    assert not is_safe_next("/invoices", prefix="/voip/")
    assert not is_safe_next("/voip", prefix="/voip/")
    assert not is_safe_next(None) and not is_safe_next(["/"])


def test_language_switch_never_redirects_away(client):
    """The language form's ``next`` goes through the same check (no password needed, so
    every bypass is tried at the door itself)."""
    for target in BYPASSES:
        r = client.post("/language", data={"lang": "en", "next": target})
        assert r.status_code == 302, repr(target)
        assert r.headers["Location"] == "/", repr(target)
    r = client.post("/language", data={"lang": "cs", "next": "/invoices?page=2"})
    assert r.headers["Location"] == "/invoices?page=2"


AT_THE_DOORS = ["%2F%09%2Fevil.example", "%2F%0A%2Fevil.example", "%2F%0D%0A%2Fevil",
                "%2F%5Cevil.example", "https%3A%2F%2Fevil.example"]


def test_client_zone_login_refuses_bypasses(app, make_customer):
    make_customer(number="2001", password="correct-horse-1")
    for query in AT_THE_DOORS:
        client = app.test_client()
        r = client.post(f"/login?next={query}",
                        data={"customer_number": "2001", "password": "correct-horse-1"})
        assert r.status_code == 302, query  # a newline in next used to give 500
        assert r.headers["Location"] == "/", query
    client = app.test_client()
    r = client.post(
        "/login?next=%2Finvoices", data={"customer_number": "2001", "password": "correct-horse-1"})
    assert r.headers["Location"] == "/invoices"


def test_voip_login_refuses_bypasses(app, make_line, make_customer, voip_auth):
    customer = make_customer(number="3001", password="zone-pass-1")
    make_line("+420601234567", password="voip-pass", customer=customer)
    for query in [*AT_THE_DOORS, "%2Fvoip%2F%09%2F", "%2F%2Fevil.example%2Fvoip%2F"]:
        client = app.test_client()
        r = voip_auth.login("567", "voip-pass", client=client, query_string=f"next={query}")
        assert r.status_code == 302, query
        assert r.headers["Location"] == "/voip/", query
    client = app.test_client()
    r = voip_auth.login("567", "voip-pass", client=client, query_string="next=%2Fvoip%2Ftopup")
    assert r.headers["Location"] == "/voip/topup"

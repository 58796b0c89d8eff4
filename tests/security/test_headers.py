"""Issue 13, item 7: browser security headers on every page (web/security.py).

Every GET route of ``app.url_map`` is requested anonymously, logged in to the client zone and
logged in to the VoIP zone; whatever the answer (page, redirect, 404, PDF, static file), the
headers are there. ``ispzone security headers`` prints them for every page.
"""

from __future__ import annotations

import re

import pytest

from web.security import CSP, HEADERS, page_paths


@pytest.fixture
def customer(make_customer, make_line):
    jana = make_customer(number="2001", password="correct-horse-1", internet_ip="10.0.0.7")
    make_line("+420601234567", password="voip-pass", customer=jana)
    return jana


def check(response, path: str, https: bool) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    hsts = response.headers.get("Strict-Transport-Security")
    assert (hsts == "max-age=31536000") if https else hsts is None, path


def test_policy_forbids_inline_script_and_framing():
    directives = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in CSP and "*" not in CSP and "data:" not in CSP
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert HEADERS["X-Frame-Options"] == "DENY"
    assert HEADERS["X-Content-Type-Options"] == "nosniff"


def test_every_get_route_has_the_headers(app, customer, auth, voip_auth):
    pages = page_paths(app)
    endpoints = {endpoint for endpoint, _path in pages}
    assert {"zone.index", "zone.login", "zone.invoices", "voip.index", "voip.login",
            "enforcement.warning", "zone.healthz", "static"} <= endpoints
    anonymous, zone_user, voip_user = (app.test_client() for _ in range(3))
    assert auth.login("2001", "correct-horse-1", client=zone_user).status_code == 302
    assert voip_auth.login("567", "voip-pass", client=voip_user).status_code == 302
    statuses = set()
    for client in (anonymous, zone_user, voip_user):
        for https in (False, True):
            base = "https://localhost" if https else "http://localhost"
            for _endpoint, path in pages:
                response = client.get(path, base_url=base)
                statuses.add(response.status_code)
                check(response, path, https)
                response.close()
            check(client.get("/no/such/page", base_url=base), "404", https)
    assert {200, 302, 404} <= statuses


def test_pages_have_no_inline_script_or_style(app, customer, auth):
    """What the policy forbids is not in the pages either (the browser test checks that
    Chromium reports no violation)."""
    client = app.test_client()
    auth.login("2001", "correct-horse-1", client=client)
    for _endpoint, path in page_paths(app):
        response = client.get(path)
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True).lower()
            # a script from our origin (<script src=...>: the console's vendored htmx) is allowed
            inline_script = re.search(r"<script(?![^>]*\bsrc=)", html)
            assert not inline_script and "<style" not in html and " style=" not in html, path
            assert "javascript:" not in html and not re.search(r"\son[a-z]+\s*=", html), path


def test_a_view_may_set_its_own_value(app):
    @app.get("/_framed")
    def framed():
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN"}

    response = app.test_client().get("/_framed")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Content-Security-Policy"] == CSP


def test_cli_prints_the_headers_of_every_page(app):
    result = app.test_cli_runner().invoke(args=["security", "headers"])
    assert result.exit_code == 0, result.output
    for endpoint, path in page_paths(app):
        assert f"GET {path}  ({endpoint})  " in result.output
    assert result.output.count("Content-Security-Policy: default-src 'self'") == len(
        page_paths(app))
    assert "Strict-Transport-Security: max-age=31536000" in result.output
    assert "(missing)" not in result.output

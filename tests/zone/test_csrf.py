"""Every POST route rejects a missing or wrong CSRF token (CSRF switched on)."""

from __future__ import annotations

import pytest


@pytest.fixture
def csrf_app(app_config):
    from app import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    yield app
    app.extensions["ispzone.engine"].dispose()


def post_routes(app):
    # (/radius/ is no Flask route: token-authenticated machine endpoints in front of Flask)
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule


def test_every_post_route_requires_a_valid_token(auth, csrf_app, make_customer):
    make_customer(number="2001", password="correct-horse-1")
    client = csrf_app.test_client()
    token = auth.csrf_token(client.get("/login").get_data(as_text=True))
    r = client.post(
        "/login", data={"customer_number": "2001", "password": "correct-horse-1", "csrf_token": token}
    )
    assert r.status_code == 302  # the real token works
    routes = list(post_routes(csrf_app))
    assert len(routes) >= 5
    for rule in routes:
        url = rule.build({arg: 1 if arg.endswith("id") else "x" for arg in rule.arguments})[1]
        missing = client.post(url, data={})
        wrong = client.post(url, data={"csrf_token": "forged"})
        assert missing.status_code == 400, rule
        assert wrong.status_code == 400, rule
    assert client.get("/info").status_code == 200  # none of them logged us out


def test_login_without_token_fails(auth, csrf_app, make_customer):
    make_customer(number="2001", password="correct-horse-1")
    client = csrf_app.test_client()
    r = auth.login("2001", "correct-horse-1", client=client)
    assert r.status_code == 400


def test_a_forms_address_opened_directly_and_an_unreadable_request_answer_in_czech(client):
    """GET /logout (the address of the logout button's form) and a NUL byte in a form: a
    page in the reader's language saying nothing changed, not Werkzeug's English one."""
    r = client.get("/logout")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    page = r.get_data(as_text=True)
    assert "Takto nedostupné" in page and "Nic nebylo změněno" in page
    assert 'href="/"' in page and "Method Not Allowed" not in page
    r = client.post("/login", data={"customer_number": "10\x0001", "password": "x"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Požadavek nešlo přečíst" in page and "Bad Request" not in page
    r = client.get("/voip/tariff?number=601%00234567")
    assert r.status_code == 400 and "Požadavek nešlo přečíst" in r.get_data(as_text=True)

"""Every route of ``app.url_map``, with GET and POST and random parameter values, logged in as
a subscriber and as a VoIP user: no answer is a 500 (issue 13, item 8).

The values mix Hypothesis' text with what has broken apps before: ``sNaN``, ``1e999999``,
NUL, very long strings, other scripts' digits, nested JSON. The names are every parameter
the app reads, plus random ones. Path parameters (``<int:...>``, ``<token>``, ``<path:...>``)
are random too. The app runs with ``TESTING`` (exceptions propagate), so an unhandled
exception fails the test as surely as a 500 would.

``FUZZ_EXAMPLES`` (default 8; more for a deeper run) sets the examples per route, method and user.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter, PathConverter

from billing.invoicing.issue import IssueOptions, LineInput, issue_invoice
from tests.voip.conftest import make_line, voip_auth  # noqa: F401 - fixtures

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))

NAMES = [
    "page", "number", "amount", "request_key", "threshold", "next", "lang", "service", "from",
    "to", "customer_number", "password", "current", "confirm", "suffix", "name",
    "contact_person", "street", "city", "postal_code", "email", "phone", "ico", "dic", "csrf_token",
]
NASTY = [
    "sNaN", "NaN", "-Infinity", "1e999999", "-1e-999999", "1E2", "0x1F", "1_000", "\x00", "a\x00b",
    "\u0663\u0660\u0660", "\uff11\uff12", "9" * 400, "-" + "9" * 40, "x" * 70_000, "ěščřžýáíé",
    "\u202e\u200b", "\ud7ff\U0001f4a9", '{"a": ' * 2000 + "1" + "}" * 2000, "[" * 5000,
    "/%09/evil.example", "//evil.example", "\\\\evil", "javascript:alert(1)", "\r\nSet-Cookie: x=1",
    "2026-02-30", "99999-01-01", "0", "-1", "2147483648", "18446744073709551616", "", " ",
    "100", "200", "49,50", "1 500 Kč", "+420601234567", "567", "%00", "<script>", "' OR 1=1 --",
]
values = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
)
names = st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=12))
params = st.dictionaries(names, values, max_size=6)
path_ints = st.one_of(st.integers(min_value=0, max_value=10**40), st.sampled_from([0, 1, 2, 3]))
path_texts = st.one_of(st.sampled_from(NASTY[:30]), st.text(min_size=1, max_size=60))


def _routes():
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            found.append((rule.rule, method))
    app.extensions["ispzone.engine"].dispose()
    return found


ROUTES = _routes()


def _path(app, rule_text: str, data) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text)
    parts = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if isinstance(converter, IntegerConverter):
            parts[arg] = str(data.draw(path_ints, label=arg))
        elif isinstance(converter, PathConverter):
            parts[arg] = "/".join(quote(p, safe="") for p in
                                  data.draw(st.lists(path_texts, min_size=1, max_size=3), label=arg))
        else:
            parts[arg] = quote(data.draw(path_texts, label=arg), safe="")
    path = rule_text
    for arg, value in parts.items():
        path = path.replace(f"<{_spec(rule_text, arg)}>", value)
    return path


def _spec(rule_text: str, arg: str) -> str:
    start = rule_text.index("<")
    while True:
        end = rule_text.index(">", start)
        inner = rule_text[start + 1:end]
        if inner.split(":")[-1] == arg:
            return inner
        start = rule_text.index("<", end)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PUBLIC_URL": "https://zona.example.net"}


@pytest.fixture
def subscriber(app, client, session, make_customer, supplier):
    customer = make_customer(number="5001", password="zone-pass-1", internet_ip="10.77.0.1")
    due = date.today() - timedelta(days=20)
    issue_invoice(session, customer, [LineInput("Internet", Decimal("1"), Decimal("450.00"))],
                  supplier, IssueOptions(issue_date=due - timedelta(days=14), due_date=due))
    session.commit()
    return ("zone", "5001", "zone-pass-1")


@pytest.fixture
def voip_user(app, client, make_customer, make_line):  # noqa: F811
    customer = make_customer(number="5002", password="zone-pass-2")
    make_line("+420601234567", password="voip-pass", customer=customer)
    return ("voip", "5002", "zone-pass-2")


def _log_in(auth, voip_auth, who) -> None:  # noqa: F811
    kind, number, password = who
    assert auth.login(number, password).status_code == 302
    if kind == "voip":
        assert voip_auth.login("567", "voip-pass").status_code == 302


def _fuzz(app, client, log_in, rule_text: str, method: str) -> None:
    logs_out = rule_text.endswith("/logout")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        if logs_out:
            log_in()
        path = _path(app, rule_text, data)
        query = data.draw(params, label="query")
        if method == "GET":
            response = client.get(path, query_string=query)
        elif data.draw(st.booleans(), label="as json"):
            body = data.draw(st.one_of(params, st.sampled_from([NASTY[18], NASTY[19]])), label="json")
            response = client.post(path, query_string=query,
                                   data=body if isinstance(body, str) else json.dumps(body),
                                   content_type="application/json")
        else:
            response = client.post(path, query_string=query, data=data.draw(params, label="form"))
        assert response.status_code < 500, (method, path, response.status_code)

    run()


@pytest.mark.parametrize("rule_text, method", ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_subscriber_gets_no_500(app, client, auth, voip_auth, subscriber, rule_text, method):  # noqa: F811
    log_in = lambda: _log_in(auth, voip_auth, subscriber)  # noqa: E731
    log_in()
    _fuzz(app, client, log_in, rule_text, method)


@pytest.mark.parametrize("rule_text, method", ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_voip_user_gets_no_500(app, client, auth, voip_auth, voip_user, rule_text, method):  # noqa: F811
    log_in = lambda: _log_in(auth, voip_auth, voip_user)  # noqa: E731
    log_in()
    _fuzz(app, client, log_in, rule_text, method)


def test_every_route_is_fuzzed():
    """A new route is fuzzed without anyone listing it here."""
    assert len(ROUTES) >= 30
    assert ("/voip/topup/confirm", "POST") in ROUTES and ("/voip/threshold", "POST") in ROUTES

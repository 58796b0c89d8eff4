"""Route x role matrix: every ``console.*`` endpoint, for anonymous users, a customer's
client-zone session and each role, GET and POST. Only the roles a route allows (plus admin)
get through; the others get 403 (anonymous users and customers: the console's login), and a
refused POST changes nothing in the database.

A console route without ``@allow(...)`` (or ``@public`` for the login pages) fails here.
A route with URL parameters needs sample values: one line per parameter name in SAMPLES, a
function of the database seeded by ``ispzone demo``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from billing.models import Base, Contract, Customer, Operator, Service
from tests.console import money_samples

ROLES = ("admin", "billing", "support", "readonly")

# parameter name -> its value in the demo's database
SAMPLES: dict[str, Callable[[Session], object]] = {
    "operator_id": lambda s: s.scalar(select(Operator.id).where(Operator.login == "podpora")),
    "customer_id": lambda s: s.scalar(select(Customer.id).where(Customer.customer_number == "1001")),
    "contract_id": lambda s: s.scalar(select(Contract.id).where(Contract.number == "1001")),
    "service_id": lambda s: s.scalar(select(Service.id).where(Service.pppoe_username == "novak1001")),
    "invoice_id": money_samples.invoice_id,
    "tx_id": money_samples.tx_id,
    "receipt_id": money_samples.cash_receipt_id,
    "upload_id": money_samples.statement_upload_id,
    "correction_id": money_samples.receipt_correction_id,
    "line_id": lambda s: s.scalar(select(Service.id).where(Service.kind == "voip").order_by(Service.id).limit(1)),
    "refund_id": lambda s: 1,  # none in the demo: refused, changing nothing
    "announcement_id": lambda s: 1,  # none in the demo: refused, changing nothing
}


def _fingerprint(session: Session) -> str:
    """Every row of every table (the database as a whole), hashed."""
    session.rollback()  # a fresh snapshot
    digest = hashlib.sha256()
    for table in Base.metadata.sorted_tables:
        if table.name == "operator_session":  # logins of the test's own clients
            continue
        digest.update(table.name.encode())
        order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns) or "1"
        for row in session.execute(text(f'SELECT * FROM "{table.name}" ORDER BY {order}')):
            digest.update(repr(tuple(row)).encode())
    session.rollback()
    return digest.hexdigest()


def _console_endpoints(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console."):
            yield rule


def _url(app, rule, samples):
    missing = [name for name in rule.arguments if name not in samples]
    if missing:
        return None, missing
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{n: samples[n] for n in rule.arguments}), []


def _to_login(response) -> bool:
    return response.status_code in (302, 303) and \
        "/console/login" in response.headers.get("Location", "")


def test_every_console_route_declares_who_may_use_it(app):
    undeclared = [
        rule.endpoint for rule in _console_endpoints(app)
        if not getattr(app.view_functions[rule.endpoint], "console_roles", None)
        and not getattr(app.view_functions[rule.endpoint], "console_public", False)
    ]
    assert undeclared == [], f"console routes without @allow(...): {undeclared}"


def test_the_route_role_matrix(app, session, console_client):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    samples = {name: fn(session) for name, fn in SAMPLES.items()}
    session.rollback()

    anonymous = app.test_client()
    customer = app.test_client()
    assert customer.post("/login", data={"customer_number": "1001",
                                         "password": "demo1001"}).status_code == 302
    assert customer.get("/info").status_code == 200
    clients = {role: console_client(role) for role in ROLES}
    outsiders = {"anonymous": anonymous, "customer": customer}

    problems: list[str] = []
    checked = 0
    for rule in sorted(_console_endpoints(app), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "console_public", False):
            continue
        allowed = view.console_roles
        url, missing = _url(app, rule, samples)
        if url is None:
            problems.append(f"{rule.rule}: no sample for {missing} (add to SAMPLES)")
            continue
        for method in ("GET", "POST"):
            if method not in rule.methods:
                continue
            def call(client, url=url, method=method):
                return client.open(url, method=method)

            # the refused first, so that an allowed POST cannot mask what they would change;
            # the database is compared before and after all of them (once: it is slow)
            before = _fingerprint(session) if method == "POST" else None
            refused = []
            for who, client in outsiders.items():
                response = call(client)
                checked += 1
                refused.append(who)
                if not _to_login(response):
                    problems.append(f"{method} {url} as {who}: {response.status_code}, "
                                    "expected the console's login")
            for role in ROLES:
                if role in allowed:
                    continue
                response = call(clients[role])
                checked += 1
                refused.append(role)
                if response.status_code != 403:
                    problems.append(f"{method} {url} as {role}: {response.status_code}, "
                                    "expected 403")
            if before is not None and _fingerprint(session) != before:
                problems.append(f"{method} {url}: a refused POST ({', '.join(refused)}) "
                                "changed the database")
            for role in ROLES:
                if role not in allowed:
                    continue
                response = call(clients[role])
                checked += 1
                if response.status_code == 403 or _to_login(response) \
                        or response.status_code >= 500:
                    problems.append(f"{method} {url} as {role}: {response.status_code}, "
                                    "expected to get through")
                elif method == "GET" and response.status_code >= 400:
                    problems.append(f"{method} {url} as {role}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert checked >= 6


def test_the_login_pages_are_open(app):
    client = app.test_client()
    assert client.get("/console/login").status_code == 200
    # the second-factor page without a password first: back to the login
    response = client.get("/console/login/code")
    assert response.status_code == 302 and response.headers["Location"].startswith("/console/login")


def test_the_check_sees_a_route_without_allow(app_config):
    """The declaration check is not vacuous: a console route without @allow is named."""
    from app import create_app

    application = create_app(app_config)
    try:
        application.add_url_rule("/console/naked", "console.naked", lambda: "open to all")
        with pytest.raises(AssertionError, match="console.naked"):
            test_every_console_route_declares_who_may_use_it(application)
    finally:
        application.extensions["ispzone.engine"].dispose()

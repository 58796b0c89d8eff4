"""Authorization matrix of the zone blueprint, built from the URL map so new routes are covered.

* every route that takes an object id: customer A asking for B's object gets 404, A's own 200;
* every GET route except the public ones: an anonymous visitor is sent to /login.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction, Service
from core.clock import today

PUBLIC = {"zone.login", "zone.forgot_password", "zone.reset_password", "zone.healthz"}
NOT_OBJECT_IDS = {"zone.reset_password", "zone.confirm_email"}  # take a signed token, not an object id
# (the e-mail change link carries its customer and is refused for another: test_email_change.py)
SUPPLIER = Supplier(account="2001234588/2010", iban="CZ6220100000002001234588")
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def zone_rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith("zone.")]


def build(rule, values: dict) -> str:
    return _ARG.sub(lambda m: str(values[m.group(1)]), rule.rule)


def objects_of(session, customer) -> dict[str, int]:
    """One object of each kind a zone URL can point at, by the URL argument's name."""
    invoice = issue_invoice(
        session, customer, [LineInput("Internet 100", Decimal("1"), Decimal("450.00"))], SUPPLIER
    )
    advance = issue_invoice(
        session, customer, [LineInput("Router", Decimal("1"), Decimal("1210.00"))], SUPPLIER,
        IssueOptions(kind="advance"),
    )
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"adv-{customer.id}",
                         booked_on=today(), amount=Decimal("500.00"),
                         specific_symbol=advance.specific_symbol)
    session.add(tx)
    session.flush()
    pair(session, tx)
    (receipt,) = issue_receipts(session)
    session.commit()
    service = session.scalar(select(Service).where(Service.customer_id == customer.id))
    statement = _credit_statement(session, customer)
    correction = _receipt_correction(session, customer)
    return {"invoice_id": invoice.id, "service_id": service.id, "receipt_id": receipt.id,
            "token": f"not-a-token-{customer.id}", "statement_id": statement.id,
            "correction_id": correction.id}


def _receipt_correction(session, customer):
    """A cash payment on an advance, its tax document, the cash receipt cancelled: the
    corrective tax document (billing/invoicing/receipt_corrections.py)."""
    from billing.cash.cancellation import cancel_cash_receipt
    from billing.cash.payments import take_cash_payment

    advance = issue_invoice(
        session, customer, [LineInput("Anténa", Decimal("1"), Decimal("605.00"))], SUPPLIER,
        IssueOptions(kind="advance"),
    )
    done = take_cash_payment(session, customer, "605", SUPPLIER, actor="operator:test",
                             invoice=advance)
    issue_receipts(session)
    (correction,) = cancel_cash_receipt(session, done.receipt, "omyl",
                                        actor="operator:test").corrections
    session.commit()
    return correction


def _credit_statement(session, customer):
    """A credit account and one monthly statement of it (billing/credit/)."""
    from billing.credit import open_account
    from billing.models.credit import CreditStatement

    account = open_account(session, customer, "CZK", actor="operator:test")
    statement = CreditStatement(account_id=account.id, month=f"{today():%Y-%m}",
                                opening=Decimal("0.00"), closing=Decimal("0.00"), movements=0)
    session.add(statement)
    session.commit()
    return statement


@pytest.fixture
def two_customers(make_customer, session):
    a = make_customer(number="4001", password="secret-pass", internet_ip="10.30.0.1")
    b = make_customer(number="4002", password="secret-pass", internet_ip="10.30.0.2")
    return objects_of(session, a), objects_of(session, b)


def test_id_routes_answer_404_for_someone_elses_object(auth, app, client, two_customers):
    own, foreign = two_customers
    rules = [r for r in zone_rules(app) if r.arguments and r.endpoint not in NOT_OBJECT_IDS]
    assert {"zone.invoice_detail", "zone.invoice_pdf", "zone.service_detail"} <= {
        r.endpoint for r in rules
    }
    unknown = {arg for r in rules for arg in r.arguments} - set(own)
    assert not unknown, f"teach objects_of() about the URL arguments {unknown}"

    assert auth.login("4001", "secret-pass").status_code == 302
    failures = []
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = client.open(build(rule, foreign), method=method)
            if r.status_code != 404:
                failures.append(f"{method} {rule.rule} with B's object: {r.status_code}")
            if method == "GET":
                r = client.get(build(rule, own))
                if r.status_code != 200:
                    failures.append(f"GET {rule.rule} with A's own object: {r.status_code}")
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login(app, client, two_customers):
    _own, foreign = two_customers
    rules = [r for r in zone_rules(app) if "GET" in r.methods and r.endpoint not in PUBLIC]
    assert len(rules) >= 9
    failures = []
    for rule in rules:
        url = build(rule, foreign)
        r = client.get(url)
        location = urlparse(r.headers.get("Location", "")).path
        if r.status_code != 302 or location != "/login":
            failures.append(f"GET {url}: {r.status_code} -> {location or '-'}")
    assert not failures, "\n".join(failures)


def test_public_pages_need_no_login(client):
    for url in ("/login", "/password/forgot", "/healthz"):
        assert client.get(url).status_code == 200, url

"""Status values on the console's pages are shown as translated labels (web/labels.py, the
``label`` filter), not as the English values stored in the database: a Czech operator reads
"spárováno", "upozorněn", "první upomínka"; an unknown value prints unchanged; the CSS
classes keep the raw value."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction
from core.clock import today
from enforcement import service
from enforcement.config import Policy
from web.labels import LABELS, label


def text_cells(html: str) -> list[str]:
    """The text of each table cell and the case's state (what an operator reads)."""
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<(?:td|strong|dd)[^>]*>(.*?)</(?:td|strong|dd)>", html,
                                   re.S)]


def section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}"')
    return html[start:html.index("</section>", start)]


def warned_customer(session, make_customer, supplier, number="7801", ip="10.9.0.1"):
    """A customer with a paid invoice (its payment matched) and one 40 days overdue, swept
    into the "warned" state (a reminder and a warning mailed, a router action queued)."""
    customer = make_customer(number=number, internet_ip=ip, password=None)
    customer.services[0].router_name = "r1"
    paid = issue_invoice(session, customer, [LineInput("Internet", Decimal(1),
                                                       Decimal("500.00"))], supplier,
                         IssueOptions(issue_date=date(2026, 1, 1), due_date=date(2026, 1, 15)))
    tx = BankTransaction(source_account="2001234567/2010", bank_tx_id=f"L{number}",
                         booked_on=date(2026, 1, 10), amount=paid.total,
                         variable_symbol=paid.variable_symbol, status="unmatched")
    session.add(tx)
    pair(session, tx, actor="system:test")
    due = today() - timedelta(days=40)
    issue_invoice(session, customer, [LineInput("Internet", Decimal(1), Decimal("605.00"))],
                  supplier, IssueOptions(issue_date=due - timedelta(days=14), due_date=due))
    session.commit()
    service.sweep(session, today(), Policy(), default_router="r1")
    session.commit()
    return customer


def czech(console_client, role="readonly"):
    client = console_client(role)
    client.post("/language", data={"lang": "cs"})
    return client


def test_the_card_shows_czech_labels(session, make_customer, supplier, console_client):
    customer = warned_customer(session, make_customer, supplier)
    html = czech(console_client).get(f"/console/customers/{customer.id}").get_data(as_text=True)

    payments = text_cells(section(html, "payments"))
    assert "spárováno" in payments and "matched" not in payments

    enforcement = section(html, "enforcement")
    cells = text_cells(enforcement)
    assert "upozorněn" in cells  # the case's state
    assert '<strong class="warned">' in enforcement  # the raw value stays a CSS class
    assert "první upomínka" in cells and "varování" in cells  # the notices on the timeline
    assert {"reminded", "warned", "enforcement.warned", "reminder1", "warning",
            "list_add", "pending", "sent"}.isdisjoint(cells)

    ledger = text_cells(section(html, "ledger"))
    assert "faktura" in ledger and "platba" in ledger
    assert {"invoice", "payment", "allocation"}.isdisjoint(ledger)

    services = text_cells(section(html, "services"))
    assert "Internet" in services and "internet" not in services


def test_the_enforcement_pages_show_czech_labels(session, make_customer, supplier,
                                                  console_client):
    customer = warned_customer(session, make_customer, supplier)
    client = czech(console_client)

    cases = client.get("/console/enforcement").get_data(as_text=True)
    table = cases.split('id="cases"')[1]
    assert '<td class="warned">upozorněn</td>' in table
    assert ">warned<" not in table
    assert '<option value="warned" >upozorněn</option>' in cases  # the state filter
    assert '<option value="acknowledged" >upozornění potvrdil</option>' in cases

    case = client.get(f"/console/enforcement/cases/{customer.id}").get_data(as_text=True)
    assert '<dd class="state">upozorněn' in case
    timeline = text_cells(case.split('class="timeline"')[1])
    assert "upozorněn" in timeline and "první upomínka" in timeline
    assert {"warned", "enforcement.warned", "reminder1", "list_add"}.isdisjoint(timeline)

    actions = client.get("/console/enforcement/actions").get_data(as_text=True)
    cells = text_cells(actions.split("<tbody>")[1])
    assert any(c.startswith("přidat do seznamu") for c in cells)
    assert not any(c.startswith("list_add") for c in cells)


def test_operators_roles_in_czech(console_client):
    html = czech(console_client, "admin").get("/console/operators").get_data(as_text=True)
    assert "admin (vše)" in text_cells(html)


def test_english_labels_and_unknown_values(app, session, make_customer, supplier,
                                           console_client):
    customer = warned_customer(session, make_customer, supplier)
    client = console_client("readonly")  # reads English
    html = client.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert "matched" in text_cells(section(html, "payments"))
    assert "first reminder" in text_cells(section(html, "enforcement"))
    with app.test_request_context():
        assert label("someday", "payment") == "someday"  # unknown: unchanged
        assert label(None, "case") == ""
        assert label("warned", "case") == "upozorněn"  # Czech by default
    assert all(isinstance(k, str) for group in LABELS.values() for k in group)

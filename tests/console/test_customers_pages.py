"""The console's customer pages: search as you type (and without JavaScript), the list,
create and edit with the zone's validation (errors shown, nothing changed), contracts,
notes (append-only), the customer card with each section in Czech formats, and "view the
zone as this customer" (read-only, audited, with a banner, no customer session left)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from billing.bank.pairing import pair
from billing.customers.register import add_note
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import (
    AuditEvent,
    BankTransaction,
    Contract,
    Customer,
    CustomerNote,
    Service,
    UserSession,
)
from core.clock import now, today
from enforcement import service as enforcement_service
from enforcement.config import Policy
from tests.console.test_money_pages import czech
from voip.lines import open_line
from voip.models import CallRecord

NBSP = "\u00a0"


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def audit_actions(session, customer_id) -> list[str]:
    session.rollback()
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.customer_id == customer_id).order_by(AuditEvent.id)))


# -- search and list -----------------------------------------------------------------------


def test_search_finds_novak_without_diacritics_with_and_without_js(session, make_customer,
                                                                    console_client):
    novak = make_customer("1001", name="Jan Novák", email="jan@example.cz", password=None)
    make_customer("1002", name="Petr Dvořák", email="petr@example.cz", password=None)
    client = console_client("readonly")
    page = client.get("/console/customers?q=novak")  # the plain GET form
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html
    assert "Jan Novák" in html and "Petr Dvořák" not in html
    assert f"/console/customers/{novak.id}" in html
    assert 'hx-get="/console/customers"' in html  # search as you type
    partial = client.get("/console/customers?q=dvorak", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "<html" not in body and "Petr Dvořák" in body and "Jan Novák" not in body
    none = client.get("/console/customers?q=%25%25%25").get_data(as_text=True)
    assert "No customer matches" in none or "Žádný zákazník" in none
    # an overlong query or one with a control character finds nothing and never fails
    for q in ("novak" + "x" * 300, "nov%01ak" + "z" * 10):
        r = client.get(f"/console/customers?q={q}")
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and ("No customer matches" in html or "Žádný zákazník" in html)
    for path in ("/console/credit?q=", "/console/voip?q="):
        assert client.get(path + "y" * 500).status_code == 200, path


def test_list_is_paginated_and_sortable(session, make_customer, console_client):
    for n, name in enumerate(["Zdeněk Černý", "Adam Bílý", "Čeněk Malý"]):
        make_customer(str(2001 + n), name=name, password=None)
    client = console_client("readonly")
    by_name = client.get("/console/customers?sort=name").get_data(as_text=True)
    assert by_name.index("Adam Bílý") < by_name.index("Čeněk Malý") < by_name.index("Zdeněk Černý")
    desc = client.get("/console/customers?sort=name&desc=1").get_data(as_text=True)
    assert desc.index("Zdeněk Černý") < desc.index("Adam Bílý")
    by_number = client.get("/console/customers?sort=number").get_data(as_text=True)
    assert by_number.index("2001") < by_number.index("2003")
    assert client.get("/console/customers?page=999&sort=bogus").status_code == 200


# -- create and edit -----------------------------------------------------------------------

GOOD = {"name": "Marie Nováková", "street": "Husova 5", "city": "Kolín",
        "postal_code": "28002", "email": "marie@example.cz", "phone": "601 234 567",
        "language": "cs"}


def test_create_assigns_the_next_number_and_audits(session, make_customer, console_client):
    make_customer("1001", password=None)
    client = console_client("support")
    response = client.post("/console/customers/new", data={**GOOD, "signed_on": "2026-03-01"})
    assert response.status_code == 302
    session.rollback()
    customer = session.scalar(select(Customer).where(Customer.name == "Marie Nováková"))
    assert customer.customer_number == "1002"
    assert response.headers["Location"].endswith(f"/console/customers/{customer.id}")
    assert customer.postal_code == "280 02" and customer.phone == "+420601234567"
    assert [(c.number, c.signed_on) for c in customer.contracts] == [("1002", date(2026, 3, 1))]
    assert customer.search_name.startswith("marie novakova")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.created"))
    assert event.actor == f"operator:{client.operator.login}" and event.customer_id == customer.id


@pytest.mark.parametrize("bad, field_message", [
    ({"postal_code": "123"}, "PSČ"),  # the zone's messages, in Czech
    ({"email": "not-an-email"}, "e-mailovou adresu"),
    ({"phone": "12"}, "telefonní číslo"),
    ({"name": ""}, "jméno"),
    ({"is_company": "y", "ico": ""}, "IČO"),
    ({"signed_on": "30.2.2026"}, "YYYY-MM-DD"),  # 1. 3. 2026 is taken (web.parsing.day)
])
def test_create_with_a_bad_field_shows_it_and_changes_nothing(session, console_client, bad,
                                                               field_message):
    client = console_client("support")
    client.post("/language", data={"lang": "cs"})
    before = (count(session, Customer), count(session, Contract), count(session, AuditEvent))
    response = client.post("/console/customers/new", data={**GOOD, **bad})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "has-error" in html and field_message.lower() in html.lower()
    assert 'value="Husova 5"' in html  # what was typed is kept
    assert (count(session, Customer), count(session, Contract),
            count(session, AuditEvent)) == before


def test_edit_saves_audits_and_a_bad_field_changes_nothing(session, make_customer,
                                                            console_client):
    customer = make_customer("1001", name="Jan Novák", password=None)
    client = console_client("support")
    form = client.get(f"/console/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'value="Jan Novák"' in form
    data = {"name": "Jan Novák", "street": "Husova 5", "city": "Kolín", "postal_code": "280 02",
            "email": "jana@example.cz", "phone": "+420777123456", "language": "cs"}
    bad = client.post(f"/console/customers/{customer.id}/edit",
                      data={**data, "city": "Kutná Hora", "email": "@@"})
    assert bad.status_code == 422 and "has-error" in bad.get_data(as_text=True)
    # an overlong field: the limit in the page's language (WTForms' own text is English)
    czech(client)
    long = client.post(f"/console/customers/{customer.id}/edit",
                       data={**data, "street": "Husova " + "5" * 400})
    assert long.status_code == 422 and "Nejvýše 300 znaků" in long.get_data(as_text=True)
    session.rollback()
    assert session.get(Customer, customer.id).city == "Kolín"
    assert "customer.changed" not in audit_actions(session, customer.id)
    ok = client.post(f"/console/customers/{customer.id}/edit", data={**data, "city": "Kutná Hora"})
    assert ok.status_code == 302
    session.rollback()
    assert session.get(Customer, customer.id).city == "Kutná Hora"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.changed"))
    assert (event.field, event.old_value, event.new_value) == ("city", "Kolín", "Kutná Hora")
    assert event.actor == f"operator:{client.operator.login}"


def test_contracts_added_and_edited(session, make_customer, console_client):
    customer = make_customer("1001", password=None)
    client = console_client("support")
    assert client.post(f"/console/customers/{customer.id}/contracts",
                       data={"signed_on": "2026-05-01"}).status_code == 302
    session.rollback()
    new = session.scalar(select(Contract).where(Contract.customer_id == customer.id,
                                                Contract.number != "1001"))
    assert new.number == "1002" and new.signed_on == date(2026, 5, 1)
    url = f"/console/customers/{customer.id}/contracts/{new.id}/edit"
    assert client.post(url, data={"signed_on": "2026-05-01", "ended_on": "2026-04-01"}) \
        .status_code == 422  # ends before it was signed: refused
    session.rollback()
    assert session.get(Contract, new.id).ended_on is None
    assert client.post(url, data={"signed_on": "2026-05-01", "ended_on": "2026-12-31"}) \
        .status_code == 302
    session.rollback()
    assert session.get(Contract, new.id).ended_on == date(2026, 12, 31)
    assert audit_actions(session, customer.id).count("contract.changed") == 1
    other = make_customer("1003", password=None)
    assert client.get(f"/console/customers/{other.id}/contracts/{new.id}/edit").status_code == 404


# -- notes ---------------------------------------------------------------------------------


def test_notes_are_added_with_author_and_never_changed(session, make_customer, console_client):
    customer = make_customer("1001", password=None)
    client = console_client("billing")
    assert client.post(f"/console/customers/{customer.id}/notes",
                       data={"text": "Slíbil zaplatit do pátku."}).status_code == 302
    assert client.post(f"/console/customers/{customer.id}/notes",
                       data={"text": "   "}).status_code == 422  # empty: refused
    session.rollback()
    notes = session.scalars(select(CustomerNote)).all()
    assert [(n.text, n.author) for n in notes] == [
        ("Slíbil zaplatit do pátku.", f"operator:{client.operator.login}")]
    card = client.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert "Slíbil zaplatit do pátku." in card and client.operator.login in card
    for statement in ("UPDATE customer_note SET text = 'x'", "DELETE FROM customer_note"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert console_client("readonly").post(f"/console/customers/{customer.id}/notes",
                                           data={"text": "x"}).status_code == 403


# -- the card ------------------------------------------------------------------------------


@pytest.fixture
def history(session, make_customer, supplier):
    """A customer with an internet service, a VoIP line with a call, two invoices (one paid,
    one overdue), a payment, a note and an enforcement case."""
    customer = make_customer("1001", name="Jan Novák", internet_ip="10.20.0.11", password=None)
    internet = customer.services[0]
    internet.pppoe_username = "novak1001"
    internet.router_name = "r1"
    line = Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind="voip",
                   name="VoIP", price=Decimal("0.00"), valid_from=date(2024, 1, 1),
                   phone_number="+420312345678")
    session.add(line)
    session.flush()
    open_line(session, line.id, Decimal("150.00"), actor="system:test")
    session.add(CallRecord(cdr_uniqueid="t-1", service_id=line.id,
                           started_at=today_noon(), source="+420312345678",
                           destination_number="+420601000111", destination="Mobil CZ",
                           billsec=95, charged_seconds=120, cost=Decimal("3.00")))
    first_due = date(2026, 1, 15)
    paid = issue_invoice(session, customer, [LineInput("Internet 100", Decimal(1),
                                                       Decimal("1234.50"))], supplier,
                         IssueOptions(issue_date=date(2026, 1, 1), due_date=first_due))
    tx = BankTransaction(source_account="2001234567/2010", bank_tx_id="T1",
                         booked_on=date(2026, 1, 10), amount=paid.total,
                         variable_symbol=paid.variable_symbol, status="unmatched")
    session.add(tx)
    pair(session, tx, actor="system:test")
    due = today() - timedelta(days=40)
    issue_invoice(session, customer, [LineInput("Internet 100", Decimal(1), Decimal("450.00"))],
                  supplier, IssueOptions(issue_date=due - timedelta(days=14), due_date=due))
    add_note(session, customer, "Volal kvůli rychlosti.", actor="operator:podpora")
    session.commit()
    enforcement_service.sweep(session, today(), Policy(), default_router="r1")
    session.commit()
    return customer


def today_noon():
    from datetime import datetime

    from core.clock import PRAGUE
    return datetime.combine(today(), datetime.min.time(), tzinfo=PRAGUE) + timedelta(hours=12)


def section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}"')
    return html[start:html.index("</section>", start)]


def test_the_card_shows_every_section_in_czech_formats(session, history, console_client):
    client = console_client("readonly")
    client.post("/language", data={"lang": "cs"})
    response = client.get(f"/console/customers/{history.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    contact = section(html, "contact")
    assert "Jan Novák" in contact and "+420 777 123 456" in contact and "280 02" in contact
    services = section(html, "services")
    assert "10.20.0.11" in services and "novak1001" in services and "100" in services
    assert "+420 312 345 678" in services
    invoices = section(html, "invoices")
    assert f"1{NBSP}234,50{NBSP}Kč" in invoices and f"1.{NBSP}1.{NBSP}2026" in invoices
    assert f"450,00{NBSP}Kč" in invoices
    payments = section(html, "payments")
    assert f"10.{NBSP}1.{NBSP}2026" in payments and f"1{NBSP}234,50{NBSP}Kč" in payments
    ledger = section(html, "ledger")
    assert f"−450,00{NBSP}Kč" in ledger  # the balance after the last invoice: a debt
    assert f"−450,00{NBSP}Kč" in html.split('<section id="contact"')[0]  # the balance tile
    enforcement = section(html, "enforcement")
    assert ">upomenut<" in enforcement or ">upozorněn<" in enforcement  # the case's state
    assert "první upomínka" in enforcement  # the timeline's events, as labels
    voip = section(html, "voip")
    assert "+420 312 345 678" in voip and f"150,00{NBSP}Kč" in voip
    assert "+420601000111" in voip and f"3,00{NBSP}Kč" in voip
    notes = section(html, "notes")
    assert "Volal kvůli rychlosti." in notes and "podpora" in notes
    assert 'name="text"' not in notes  # readonly: no note form
    audit = section(html, "audit")
    assert "enforcement." in audit
    assert "/view-as" not in html  # readonly may not view the zone as the customer
    support = console_client("support").get(f"/console/customers/{history.id}")
    assert f"/console/customers/{history.id}/view-as" in support.get_data(as_text=True)


def test_the_card_in_english(session, history, console_client):
    client = console_client("readonly")
    client.post("/language", data={"lang": "en", "next": f"/console/customers/{history.id}"})
    html = client.get(f"/console/customers/{history.id}").get_data(as_text=True)
    assert f"CZK{NBSP}1,234.50" in html and "1 Jan 2026" in html


def test_unknown_customer_is_404(console_client):
    assert console_client("readonly").get("/console/customers/999999").status_code == 404


# -- view the zone as this customer --------------------------------------------------------


def test_view_as_is_read_only_audited_with_a_banner_and_leaves_nothing(
        app, session, make_customer, console_client):
    customer = make_customer("1001", name="Jan Novák", password="customer-secret-1")
    client = console_client("support", login="eva")
    sessions_before = count(session, UserSession)
    response = client.post(f"/console/customers/{customer.id}/view-as")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    session.rollback()
    row = session.scalar(select(UserSession).where(UserSession.viewed_by.is_not(None)))
    assert row.viewed_by == "operator:eva" and row.customer_id == customer.id
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.viewed_as"))
    assert event.actor == "operator:eva" and event.customer_id == customer.id

    home = client.get("/", follow_redirects=True)
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "view-as-banner" in html
    assert "eva" in html.split("view-as-banner")[1][:600] and "1001" in html
    info = client.get("/info").get_data(as_text=True)
    assert "Jan Novák" in info and "customer-secret-1" not in info
    assert "view-as-banner" in client.get("/invoices").get_data(as_text=True)
    session.rollback()
    password_hash = session.get(Customer, customer.id).password_hash
    assert password_hash not in info

    # every change refused, nothing written
    before = (count(session, AuditEvent), session.get(Customer, customer.id).city)
    for url, data in (("/info/edit", {"name": "X", "street": "Y 1", "city": "Praha",
                                      "postal_code": "11000", "email": "x@example.cz",
                                      "phone": "601234567"}),
                      ("/password", {"current": "customer-secret-1", "password": "n3w-pass-word",
                                     "confirm": "n3w-pass-word"}),
                      ("/warning/acknowledge", {})):
        refused = client.post(url, data=data)
        assert refused.status_code == 403, url
    session.rollback()
    assert (count(session, AuditEvent), session.get(Customer, customer.id).city) == before
    assert session.get(Customer, customer.id).password_hash == password_hash

    # the console still works for the operator meanwhile (its own login)
    assert client.post(f"/console/customers/{customer.id}/notes",
                       data={"text": "viděl jsem zónu"}).status_code == 302

    left = client.post("/view-as/leave")
    assert left.status_code == 302
    assert left.headers["Location"].endswith(f"/console/customers/{customer.id}")
    assert count(session, UserSession) == sessions_before  # no customer session left behind
    assert "customer.view_as_ended" in audit_actions(session, customer.id)
    after = client.get("/info")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_view_as_ends_by_itself(app, session, make_customer, console_client):
    customer = make_customer("1001", password=None)
    client = console_client("support")
    client.post(f"/console/customers/{customer.id}/view-as")
    session.rollback()
    # begun 31 minutes ago, used a moment ago: the zone's own idle limit is not what ends it
    session.execute(text("UPDATE user_session SET created_at = :t WHERE viewed_by IS NOT NULL"),
                    {"t": now() - timedelta(minutes=31)})
    session.commit()
    response = client.get("/info")
    assert response.status_code == 302 and response.headers["Location"].startswith("/console")
    assert count(session, UserSession) == 0


def test_a_customers_own_session_is_not_read_only(app, session, make_customer, auth):
    make_customer("1001", password="customer-secret-1")
    assert auth.login("1001", "customer-secret-1").status_code == 302
    page = auth._client.get("/info")
    assert page.status_code == 200 and "view-as-banner" not in page.get_data(as_text=True)
    assert auth._client.post("/view-as/leave").status_code == 404


def test_a_contract_day_typed_as_czech_people_write_it(session, console_client):
    client = console_client("support")
    response = client.post("/console/customers/new", data={**GOOD, "signed_on": "31. 12. 2025"})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.rollback()
    customer = session.scalar(select(Customer).where(Customer.name == GOOD["name"]))
    assert [c.signed_on for c in customer.contracts] == [date(2025, 12, 31)]

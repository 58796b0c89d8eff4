"""The client zone pages as a customer sees them: their own data, formatted, and nothing else."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from billing.bank import pairing as billing_payments
from billing.customers.self_service import payment_history
from billing.customers.usage import daily_traffic
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent, BankTransaction, Customer, Service, TrafficDay
from core.clock import today

NBSP = "\u00a0"
_tx_ids = iter(range(1, 10_000))
# The default Supplier's account fails the mod-11 and IBAN checks: use a valid one.
SUPPLIER = Supplier(account="2001234588/2010", iban="CZ6220100000002001234588")


def kc(text: str) -> str:
    """'1 234,50 Kč' as the money filter writes it (non-breaking spaces)."""
    return text.replace(" ", NBSP)


def issue(session, customer, amount="450.00", days_ago=0, due_in=14, kind="regular", lines=None):
    issued = today() - timedelta(days=days_ago)
    invoice = issue_invoice(
        session,
        customer,
        lines or [LineInput("Internet 100", Decimal("1"), Decimal(amount), unit="měs.")],
        SUPPLIER,
        IssueOptions(kind=kind, issue_date=issued, due_date=issued + timedelta(days=due_in)),
    )
    session.commit()
    return invoice


def pay(session, amount, vs, ss=None, booked_on=None):
    tx = BankTransaction(
        source_account="2001234567/2010",
        bank_tx_id=f"tx-{next(_tx_ids)}",
        booked_on=booked_on or today(),
        amount=Decimal(amount),
        variable_symbol=vs,
        specific_symbol=ss,
    )
    session.add(tx)
    session.flush()
    billing_payments.pair(session, tx)
    session.commit()
    return tx


def english(client):
    client.post("/language", data={"lang": "en", "next": "/info"})


@pytest.fixture
def jana(make_customer):
    return make_customer(number="3001", password="secret-pass", internet_ip="10.20.0.5")


@pytest.fixture
def logged_in(auth, client, jana):
    assert auth.login("3001", "secret-pass").status_code == 302
    return client


def internet_service(session, customer) -> Service:
    return session.scalar(
        select(Service).where(Service.customer_id == customer.id, Service.kind == "internet")
    )


# -- information -----------------------------------------------------------------------------


def test_info_shows_contact_contracts_and_debt(logged_in, session, jana):
    issue(session, jana, "1234.50", days_ago=30)  # due 16 days ago: overdue
    html = logged_in.get("/info").get_data(as_text=True)
    assert "Jana Dvořáková" in html and "3001" in html
    assert "+420 777 123 456" in html
    assert "Husova 5" in html and "280 02 Kolín" in html
    assert kc("1 234,50 Kč") in html  # open and overdue totals
    english(logged_in)
    html = logged_in.get("/info").get_data(as_text=True)
    assert f"You owe CZK{NBSP}1,234.50." in html
    assert "Contract number (variable symbol)" in html


def test_amount_not_yet_due_is_not_called_a_debt(logged_in, session, jana):
    """1001 of the demo, after a VoIP top-up: an invoice due in 14 days is no debt yet."""
    issue(session, jana, "200.00")
    for url in ("/info", "/payments"):
        html = logged_in.get(url).get_data(as_text=True)
        assert f"K úhradě máte {kc('200,00 Kč')}, nic zatím není po splatnosti." in html
        assert "dluh" not in html and 'class="debt"' not in html
    english(logged_in)
    html = logged_in.get("/info").get_data(as_text=True)
    assert f"You have CZK{NBSP}200.00 to pay; nothing is overdue." in html


def test_info_shows_credit_and_company_ids(auth, client, make_customer, session):
    make_customer(
        number="3002",
        is_company=True,
        ico="27074358",
        dic="CZ27074358",
        name="Pekárna s.r.o.",
        contact_person="Petr Novák",
    )
    pay(session, "300.00", vs="3002")
    auth.login("3002", "secret-pass")
    english(client)
    html = client.get("/info").get_data(as_text=True)
    assert f"Your credit is CZK{NBSP}300.00." in html
    assert "27074358" in html and "CZ27074358" in html and "Petr Novák" in html


# -- invoices --------------------------------------------------------------------------------


def statuses(html: str) -> dict[str, str]:
    rows = re.findall(r'<tr class="status-(\w+)">\s*<td[^>]*><a href="/invoices/\d+">(\d+)</a>', html)
    return {number: status for status, number in rows}


def test_invoice_list_statuses(logged_in, session, jana):
    paid = issue(session, jana, "450.00", days_ago=60)
    overdue = issue(session, jana, "450.00", days_ago=30)
    partly = issue(session, jana, "450.00", days_ago=5)
    unpaid = issue(session, jana, "199.00", days_ago=0)
    pay(session, "450.00", vs="3001", ss=paid.specific_symbol)
    pay(session, "100.00", vs="3001", ss=partly.specific_symbol)

    html = logged_in.get("/invoices").get_data(as_text=True)
    assert statuses(html) == {
        paid.number: "paid",
        overdue.number: "overdue",
        partly.number: "partly_paid",
        unpaid.number: "unpaid",
    }
    assert kc("350,00 Kč") in html  # what is left of the partly paid one
    assert f'href="/invoices/{paid.id}.pdf"' in html


def test_invoice_list_pages_newest_first(logged_in, session, jana):
    from zone.views import INVOICES_PER_PAGE

    issued = [issue(session, jana, "100.00", days_ago=days) for days in range(INVOICES_PER_PAGE + 3)]
    pay(session, "100.00", vs="3001", ss=issued[-1].specific_symbol)  # the oldest is paid
    first = logged_in.get("/invoices").get_data(as_text=True)
    shown = statuses(first)
    assert len(shown) == INVOICES_PER_PAGE
    assert issued[0].number in shown and issued[-1].number not in shown
    assert "Strana 1 z 2" in first and 'href="/invoices?page=2"' in first
    second = logged_in.get("/invoices?page=2").get_data(as_text=True)
    assert set(statuses(second)) == {inv.number for inv in issued[INVOICES_PER_PAGE:]}
    assert statuses(second)[issued[-1].number] == "paid"
    assert "Novější faktury" in second and "Starší faktury" not in second
    # a page past the end shows the last one; nonsense shows the first
    assert statuses(logged_in.get("/invoices?page=99").get_data(as_text=True)) == statuses(second)
    assert statuses(logged_in.get("/invoices?page=x").get_data(as_text=True)) == shown


def test_account_summary_matches_the_invoice_states(session, jana):
    from billing.ledger.balances import account_summary, customer_invoices
    from billing.ledger.postings import balance

    issue(session, jana, "450.00", days_ago=60)
    issue(session, jana, "300.00", days_ago=40)
    issue(session, jana, "199.00", days_ago=0)
    pay(session, "500.00", vs="3001")
    summary = account_summary(session, jana.id, today())
    states = [s for s in customer_invoices(session, jana.id, today()) if s.is_open]
    overdue = [s for s in states if s.invoice.due_date < today()]
    assert summary.open_total == sum((s.open_amount for s in states), Decimal("0.00"))
    assert summary.open_total == Decimal("449.00")
    assert summary.overdue_total == Decimal("250.00")
    assert summary.oldest_overdue_due == min(s.invoice.due_date for s in overdue)
    assert summary.balance == balance(session, jana.id) == Decimal("-449.00")


def test_invoice_detail_shows_lines_recap_and_qr_when_open(logged_in, session, jana):
    invoice = issue(
        session,
        jana,
        lines=[
            LineInput("Internet 100", Decimal("1"), Decimal("450.00"), unit="měs."),
            LineInput("Kniha o sítích", Decimal("2"), Decimal("112.00"), vat_rate=Decimal("12")),
        ],
    )
    html = logged_in.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Internet 100" in html and "Kniha o sítích" in html
    assert "2&nbsp;ks" in html and "12&nbsp;%" in html
    assert kc("674,00 Kč") in html  # total
    assert invoice.variable_symbol in html and invoice.specific_symbol in html
    assert "2001234588/2010" in html and "CZ62 2010 0000 0020 0123 4588" in html
    assert "zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345" in html
    assert "<svg" in html and "qr-platba" in html
    assert f'href="/invoices/{invoice.id}.pdf"' in html


def test_paid_invoice_has_no_qr_and_lists_the_payment(logged_in, session, jana):
    invoice = issue(session, jana, "450.00")
    pay(session, "450.00", vs="3001", booked_on=date(2026, 1, 15))
    html = logged_in.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "qr-platba" not in html
    assert f"15.{NBSP}1.{NBSP}2026" in html
    assert 'class="badge paid"' in html


def test_credit_note_links_the_corrected_invoice(logged_in, session, jana):
    invoice = issue(session, jana, "450.00")
    note = issue_invoice(
        session,
        jana,
        [LineInput("Oprava", Decimal("1"), Decimal("-100.00"))],
        SUPPLIER,
        IssueOptions(kind="credit_note", corrects=invoice),
    )
    session.commit()
    html = logged_in.get(f"/invoices/{note.id}").get_data(as_text=True)
    assert f'<a href="/invoices/{invoice.id}">{invoice.number}</a>' in html
    html = logged_in.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert f'<a href="/invoices/{note.id}">{note.number}</a>' in html


def test_pdf_download(logged_in, session, jana):
    invoice = issue(session, jana, "450.00")
    r = logged_in.get(f"/invoices/{invoice.id}.pdf")
    assert r.status_code == 200
    assert r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF")
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"faktura-{invoice.number}.pdf" in disposition
    assert "no-store" in r.headers["Cache-Control"] and "private" in r.headers["Cache-Control"]


# -- payments --------------------------------------------------------------------------------


def test_payments_page_lists_payment_invoice_and_credit(logged_in, session, jana):
    invoice = issue(session, jana, "450.00", days_ago=20)
    pay(session, "1000.00", vs="3001", booked_on=today() - timedelta(days=2))
    html = logged_in.get("/payments").get_data(as_text=True)
    assert kc("1 000,00 Kč") in html
    assert f'<a href="/invoices/{invoice.id}">{invoice.number}</a>' in html
    assert kc("450,00 Kč") in html and kc("550,00 Kč") in html
    english(logged_in)
    html = logged_in.get("/payments").get_data(as_text=True)
    assert f"Your credit is CZK{NBSP}550.00." in html


def test_payments_page_shows_debt(logged_in, session, jana):
    issue(session, jana, "450.00", days_ago=30)
    pay(session, "200.00", vs="3001")
    english(logged_in)
    html = logged_in.get("/payments").get_data(as_text=True)
    assert f"You owe CZK{NBSP}250.00." in html


def test_payment_history_runs_two_queries(session, engine, jana, make_customer):
    for _ in range(3):
        issue(session, jana, "100.00")
    for _ in range(4):
        pay(session, "80.00", vs="3001")
    other = make_customer(number="3009")
    pay(session, "50.00", vs="3009")
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    history = payment_history(session, jana.id)
    statements = [s for s in statements if s != "BEGIN"]  # transaction control is not a query
    assert len(statements) == 2
    assert len(history) == 4
    assert sum(a.amount for p in history for a in p.paid) == Decimal("300.00")
    assert sum(p.unapplied for p in history) == Decimal("20.00")
    assert any(len(p.paid) == 2 for p in history)  # one payment split over two invoices
    assert payment_history(session, other.id)[0].unapplied == Decimal("50.00")


# -- services --------------------------------------------------------------------------------


def test_services_grouped_with_details(logged_in, session, jana, app):
    contract = jana.contracts[0]
    internet = internet_service(session, jana)
    internet.pppoe_username = "jana.kolin"
    past = today() - timedelta(days=10)
    session.add_all(
        [
            Service(
                customer_id=jana.id,
                contract_id=contract.id,
                kind="insurance",
                name="Pojištění routeru",
                description="MikroTik hAP ax2",
                price=Decimal("49.00"),
                valid_from=date(2024, 1, 1),
                paid_until=past,
                period="month",
            ),
            Service(
                customer_id=jana.id,
                contract_id=contract.id,
                kind="voip",
                name="VoIP Start",
                phone_number="+420601111222",
                price=Decimal("0.00"),
                valid_from=date(2024, 1, 1),
            ),
            Service(
                customer_id=jana.id,
                contract_id=contract.id,
                kind="other",
                name="Veřejná IP",
                price=Decimal("1200.00"),
                period="year",
                valid_from=date(2023, 1, 1),
                valid_to=date(2024, 12, 31),
            ),
        ]
    )
    session.commit()
    html = logged_in.get("/services").get_data(as_text=True)
    assert f"100{NBSP}Mbit/s" in html and f"20{NBSP}Mbit/s" in html
    assert "10.20.0.5" in html and "Husova 5, Kolín" in html and "jana.kolin" in html
    assert "MikroTik hAP ax2" in html and 'class="badge overdue"' in html
    assert "+420 601 111 222" in html
    assert ('href="/voip/"' in html) == ("voip.index" in app.view_functions)
    active, _, ended = html.partition('id="ended-heading"')
    assert "Veřejná IP" in ended and "Veřejná IP" not in active
    assert kc("450,00 Kč") in active


def test_service_detail_links_to_its_traffic(logged_in, session, jana):
    service = internet_service(session, jana)
    html = logged_in.get(f"/services/{service.id}").get_data(as_text=True)
    assert "10.20.0.5" in html
    assert f'href="/traffic?service={service.id}"' in html


# -- traffic ---------------------------------------------------------------------------------


def add_traffic(session, service, day, down, up):
    session.add(TrafficDay(service_id=service.id, day=day, bytes_down=down, bytes_up=up))


def test_traffic_page_totals_table_and_chart(logged_in, session, jana, make_customer):
    service = internet_service(session, jana)
    add_traffic(session, service, date(2026, 3, 1), 1_500_000_000, 200_000_000)
    add_traffic(session, service, date(2026, 3, 3), 500_000_000, 100_000_000)
    add_traffic(session, service, date(2026, 3, 20), 9_000_000_000, 9_000_000_000)  # outside
    other = make_customer(number="3010", internet_ip="10.20.0.6")
    add_traffic(session, internet_service(session, other), date(2026, 3, 1), 7_000_000_000, 1)
    session.commit()

    r = logged_in.get("/traffic?from=2026-03-01&to=2026-03-10")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert f"2,0{NBSP}GB" in html and f"300,0{NBSP}MB" in html and f"2,3{NBSP}GB" in html
    assert html.count('<tr><td class="nowrap">') == 10  # one row per day
    assert 'role="img"' in html and "aria-label=" in html
    assert f"1{NBSP}500{NBSP}000{NBSP}000{NBSP}B" in html  # exact value in a bar's <title>
    assert html.count('<rect class="bar down"') == 2 + 1  # two days + the legend
    assert "7,0" not in html  # nothing of the other customer


def test_traffic_defaults_to_current_month_and_rejects_bad_ranges(logged_in):
    first = today().replace(day=1).isoformat()
    html = logged_in.get("/traffic").get_data(as_text=True)
    assert f'value="{first}"' in html and f'value="{today().isoformat()}"' in html
    for query in ("from=2026-03-10&to=2026-03-01", "from=2024-01-01&to=2025-12-31", "from=x"):
        html = logged_in.get(f"/traffic?{query}").get_data(as_text=True)
        assert 'class="flash error"' in html, query
        assert f'value="{first}"' in html, query


def test_traffic_of_another_customers_service_is_404(logged_in, make_customer, session):
    other = make_customer(number="3011", internet_ip="10.20.0.7")
    assert (
        logged_in.get(f"/traffic?service={internet_service(session, other).id}").status_code == 404
    )


def test_daily_traffic_fills_days_and_sums_services(session, jana, engine):
    first = internet_service(session, jana)
    second = Service(
        customer_id=jana.id,
        contract_id=jana.contracts[0].id,
        kind="internet",
        name="Internet 2",
        valid_from=date(2024, 1, 1),
    )
    session.add(second)
    session.flush()
    add_traffic(session, first, date(2026, 5, 2), 10, 1)
    add_traffic(session, second, date(2026, 5, 2), 5, 2)
    session.commit()
    statements = []
    event.listen(
        engine, "before_cursor_execute", lambda *a: a[2] != "BEGIN" and statements.append(a[2])
    )
    days = daily_traffic(session, jana.id, None, date(2026, 5, 1), date(2026, 5, 3))
    assert len(statements) == 1
    assert [(d.bytes_down, d.bytes_up) for d in days] == [(0, 0), (15, 3), (0, 0)]
    only_second = daily_traffic(session, jana.id, second.id, date(2026, 5, 2), date(2026, 5, 2))
    assert only_second[0].bytes_down == 5


def test_banner_on_the_disconnection_day_names_no_past_date(auth, client, session, make_customer):
    """Demo 1003 acknowledged 11 days ago; until the sweep disconnects them, the zone said
    'will be suspended on <yesterday>. 0 days left'."""
    from core.clock import now
    from enforcement import acknowledge as ack
    from enforcement import cases
    from enforcement.config import Policy

    customer = make_customer(number="3005", password="secret-pass", internet_ip="10.20.0.9")
    issue(session, customer, "605.00", days_ago=60)
    case = cases.get_case(session, customer.id)
    cases.transition(session, case, "warned", actor="system")
    case.warned_at = now() - timedelta(days=12)
    session.commit()
    ack.acknowledge(session, customer.id, ip="10.20.0.9", actor="ip:10.20.0.9",
                    policy=Policy(), at=now() - timedelta(days=11))
    session.commit()
    auth.login("3005", "secret-pass")
    for url in ("/info", "/warning"):
        html = client.get(url).get_data(as_text=True)
        assert "vaše připojení může být pozastaveno kdykoli" in html, url
        assert "bude pozastaveno" not in html and "Zbývá 0" not in html, url
    english(client)
    html = client.get("/invoices").get_data(as_text=True)
    assert "your connection can be suspended at any moment" in html
    assert "0 days left" not in html


# -- contact details -------------------------------------------------------------------------

CONTACT = {
    "name": "Jana Dvořáková",
    "contact_person": "",
    "street": "Husova 5",
    "city": "Kolín",
    "postal_code": "280 02",
    "email": "jana@example.cz",
    "phone": "+420777123456",
}


def reload(session, customer) -> Customer:
    session.expire_all()
    return session.get(Customer, customer.id)


def test_contact_edit_normalises_audits_and_tells_the_operator(logged_in, session, jana, outbox):
    form = logged_in.get("/info/edit").get_data(as_text=True)
    assert 'value="Husova 5"' in form and 'name="ico"' not in form
    r = logged_in.post(
        "/info/edit", data={**CONTACT, "phone": "601 234 567", "postal_code": "28002"}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/info")
    customer = reload(session, jana)
    assert customer.phone == "+420601234567"
    assert customer.postal_code == "280 02"  # normalised back to the same: no change
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.changed")).all()
    assert [(e.field, e.old_value, e.new_value, e.actor) for e in events] == [
        ("phone", "+420777123456", "+420601234567", "customer:3001")
    ]
    assert events[0].ip == "127.0.0.1" and events[0].customer_id == jana.id
    [mail] = outbox.messages()
    assert mail["To"] == "podpora@priklad.net"
    assert "3001" in mail["Subject"]
    assert "+420777123456 -> +420601234567" in mail.get_content()


def test_contact_edit_shows_the_phone_as_the_pages_do(logged_in, session, jana, outbox):
    html = logged_in.get("/info/edit").get_data(as_text=True)
    assert jana.phone == "+420777123456"
    assert 'value="+420 777 123 456"' in html
    assert logged_in.post("/info/edit", data={**CONTACT, "phone": "+420 777 123 456"}).status_code == 302
    assert outbox.messages() == []  # the same number: nothing changed


def test_contact_edit_without_change_sends_nothing(logged_in, session, outbox):
    assert logged_in.post("/info/edit", data=CONTACT).status_code == 302
    assert outbox.messages() == []
    assert (
        session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.changed")).all()
        == []
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "jana@@example", "Enter a valid e-mail address."),
        ("phone", "12345", "Enter a valid phone number"),
        ("ico", "12345678", "This company ID (IČO) does not exist"),
        ("dic", "CZ27074359", "Enter a valid Czech VAT ID (DIČ)"),
        ("postal_code", "2800", "Enter a valid postal code"),
        ("postal_code", "000 00", "Enter a valid postal code"),  # Czech PSČ start with 1-7
        ("postal_code", "912 01", "Enter a valid postal code"),  # a Slovak one
    ],
)
def test_contact_edit_rejects_bad_values_and_changes_nothing(
    auth, client, make_customer, session, outbox, field, value, message
):
    firm = make_customer(number="3003", is_company=True, ico="27074358", dic="CZ27074358")
    auth.login("3003", "secret-pass")
    english(client)
    data = {**CONTACT, "ico": "27074358", "dic": "CZ27074358", "city": "Praha", field: value}
    r = client.post("/info/edit", data=data)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r'<div class="field has-error">\s*<label for="' + field, html)
    assert message in html
    customer = reload(session, firm)
    assert customer.city == "Kolín" and customer.ico == "27074358"
    assert (
        session.scalars(select(AuditEvent).where(AuditEvent.action == "contact.changed")).all()
        == []
    )
    assert outbox.messages() == []


def field_errors(html: str) -> set[str]:
    return set(re.findall(r'<div class="field has-error">\s*<label for="(\w+)"', html))


def test_contact_edit_shows_every_problem_at_once(auth, client, make_customer, session):
    """A missing name used to hide the bad e-mail and phone until the next attempt."""
    make_customer(number="3003", is_company=True, ico="27074358", dic="CZ27074358")
    auth.login("3003", "secret-pass")
    english(client)
    data = {**CONTACT, "name": "", "email": "jana@novak", "phone": "12345",
            "ico": "27074359", "dic": "CZ1234"}
    html = client.post("/info/edit", data=data).get_data(as_text=True)
    assert field_errors(html) == {"name", "email", "phone", "ico", "dic"}
    assert "Enter a valid e-mail address." in html and "Enter a valid phone number" in html


def test_contact_edit_takes_ico_and_dic_written_with_spaces(auth, client, make_customer, session):
    firm = make_customer(number="3003", is_company=True, ico="27074358", dic="CZ27074358")
    auth.login("3003", "secret-pass")
    form = client.get("/info/edit").get_data(as_text=True)
    # no maxlength: a browser would cut "271 58 365" to "271 58 3"
    assert not re.search(r'<input[^>]*name="(ico|dic)"[^>]*maxlength', form)
    data = {**CONTACT, "ico": "271 58 365", "dic": "cz 271 58 365"}
    assert client.post("/info/edit", data=data).status_code == 302
    customer = reload(session, firm)
    assert (customer.ico, customer.dic) == ("27158365", "CZ27158365")


def test_short_new_password_is_explained_in_czech(logged_in):
    form = logged_in.get("/password").get_data(as_text=True)
    assert "Alespoň 10 znaků." in form
    data = {"current": "secret-pass", "password": "kratke", "confirm": "kratke"}
    html = logged_in.post("/password", data=data).get_data(as_text=True)
    assert "Heslo musí mít alespoň 10 znaků." in html
    assert "Délka pole" not in html  # WTForms' own Czech message (with a typo)


# -- language --------------------------------------------------------------------------------


def test_english_after_choosing_it(logged_in, session, jana):
    issue(session, jana, "1234.50")
    html = logged_in.get("/invoices").get_data(as_text=True)
    assert '<html lang="cs">' in html and kc("1 234,50 Kč") in html
    r = logged_in.post("/language", data={"lang": "en", "next": "/invoices"})
    assert r.status_code == 302
    html = logged_in.get("/invoices").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f"CZK{NBSP}1,234.50" in html
    assert ">Invoices</h1>" in html and "Due" in html and "unpaid" in html

"""The overview and the invoice list with the few statements issue 17 left them (bench/peer.py):
what they show is still all there, and never older than the last commit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from billing.models import Contract, Service
from core.clock import now, today
from enforcement import announcements
from tests.zone.test_pages import NBSP, issue, kc, pay
from voip.lines import open_line


@pytest.fixture
def eva(make_customer):
    return make_customer(number="4001", password="secret-pass", internet_ip="10.20.0.9")


@pytest.fixture
def logged_in(auth, client, eva):
    assert auth.login("4001", "secret-pass").status_code == 302
    return client


def voip_line(session, customer, number: str, **fields) -> Service:
    contract = session.query(Contract).filter_by(customer_id=customer.id).first()
    service = Service(customer_id=customer.id, contract_id=contract.id, kind="voip",
                      name="Telefonní linka VoIP", price=Decimal("50.00"), phone_number=number,
                      valid_from=fields.pop("valid_from", date(2024, 1, 1)), **fields)
    session.add(service)
    session.commit()
    return service


class Statements:
    """Counts the queries the app's engine runs (not the transaction's BEGIN/COMMIT)."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)
        self._engine = engine

    def _seen(self, _conn, _cursor, statement, *_args):
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.count += 1  # (SQLite's BEGIN is a statement of core.db's own)

    def close(self):
        event.remove(self._engine, "before_cursor_execute", self._seen)


def test_overview_lists_contracts_and_only_the_voip_lines_in_force(logged_in, session, eva):
    session.add(Contract(customer_id=eva.id, number="4001-2", signed_on=date(2025, 3, 1),
                         ended_on=date(2026, 2, 28)))
    session.commit()
    live = voip_line(session, eva, "+420601555111")
    open_line(session, live.id, Decimal("123.45"), actor="test")
    voip_line(session, eva, "+420601555222", valid_to=today() - timedelta(days=1))  # ended
    voip_line(session, eva, "+420601555333", valid_from=today() + timedelta(days=5))  # not yet
    session.commit()

    html = logged_in.get("/info").get_data(as_text=True)
    assert "+420 601 555 111" in html
    assert 'data-voip-credit="123.45"' in html and kc("123,45 Kč") in html
    assert "601 555 222" not in html and "601 555 333" not in html
    contracts = html.split('id="contracts-heading"')[1]
    assert contracts.index("4001</strong>") < contracts.index("4001-2</strong>")  # oldest first
    assert f"28.{NBSP}2.{NBSP}2026" in contracts  # the ended contract's end


def test_overview_and_invoice_list_statements(logged_in, app, session, eva):
    """/info: the login session (with the banner's and the announcements' flags), the
    account summary, the contracts with the VoIP lines (was 8 queries); /invoices: the
    session and one page (was 4)."""
    issue(session, eva, "450.00", days_ago=40)
    logged_in.get("/info")  # the first request after login may write the last-seen time
    statements = Statements(app.extensions["ispzone.engine"])
    try:
        assert logged_in.get("/info").status_code == 200
        info = statements.count
        statements.count = 0
        assert logged_in.get("/invoices").status_code == 200
        invoices = statements.count
    finally:
        statements.close()
    assert (info, invoices) == (3, 2)


def test_an_announcement_shows_on_the_next_page_load(logged_in, session, eva):
    """The session's "any announcement current?" flag is read with every request: an
    announcement posted between two page loads is on the second."""
    assert 'data-announcement="' not in logged_in.get("/info").get_data(as_text=True)
    posted = announcements.add(session, kind="outage", text_cs="Výpadek v Kolíně",
                               starts_at=now() - timedelta(minutes=1), actor="operator:test")
    session.commit()
    html = logged_in.get("/invoices").get_data(as_text=True)
    assert f'data-announcement="{posted.id}"' in html and "Výpadek v Kolíně" in html
    announcements.end(session, posted.id, actor="operator:test")
    session.commit()
    assert 'data-announcement="' not in logged_in.get("/info").get_data(as_text=True)


def test_a_payment_shows_on_the_next_page_load(logged_in, session, eva):
    """Nothing on the two pages is kept between requests: a payment committed between two
    loads is on the second (debt gone, invoice paid)."""
    invoice = issue(session, eva, "450.00", days_ago=30)
    assert kc("450,00 Kč") in logged_in.get("/info").get_data(as_text=True).split(
        'class="due-now')[1]
    assert "badge overdue" in logged_in.get("/invoices").get_data(as_text=True)
    pay(session, "450.00", vs=invoice.variable_symbol)
    html = logged_in.get("/info").get_data(as_text=True)
    assert 'class="due-now' not in html
    listing = logged_in.get("/invoices").get_data(as_text=True)
    assert "badge paid" in listing and "badge overdue" not in listing

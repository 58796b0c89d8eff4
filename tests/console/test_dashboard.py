"""The dashboard against known data: debt by age, payments today and this month, the
unmatched queue, the router outbox and failed notices."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from billing import overview
from billing.bank.importing import import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from core.clock import now, today
from enforcement import backlog as network
from enforcement.models import EnforcementMail, RouterAction

_ids = itertools.count(1)


def _owe(session, supplier, customer, amount, due):
    invoice = issue_invoice(
        session, customer, [LineInput("Výjezd technika", Decimal("1"), Decimal(amount))],
        supplier, IssueOptions(issue_date=min(due, today()), due_date=due))
    session.commit()
    return invoice


def _pay(session, payments):
    txs = [ParsedTransaction(
        bank_tx_id=str(700000 + next(_ids)), booked_on=on, amount=Decimal(amount), currency="CZK",
        variable_symbol=vs, specific_symbol=None, constant_symbol=None,
        counter_account="123456789/0800", counter_name="Zákazník", message="platba", line=0)
        for vs, amount, on in payments]
    data = render_gpc(ParsedStatement("gpc", "2001234588/2010", txs))
    import_statement(session, data, "vypis.gpc", "gpc", bank_code="2010")
    session.commit()


def _known_data(session, supplier, make_customer):
    """Five customers owing at known ages, some payments, a queue, an outbox."""
    on = today()
    a, b, c, d, e = (make_customer(number=str(n), email=f"c{n}@example.cz")
                     for n in (3001, 3002, 3003, 3004, 3005))
    _owe(session, supplier, a, "1000.00", on + timedelta(days=5))     # not due yet
    _owe(session, supplier, a, "200.00", on)                          # due today: not overdue
    _owe(session, supplier, b, "300.00", on - timedelta(days=1))      # 0-30
    _owe(session, supplier, b, "400.00", on - timedelta(days=30))     # 0-30
    _owe(session, supplier, c, "500.00", on - timedelta(days=31))     # 31-60
    _owe(session, supplier, d, "600.00", on - timedelta(days=61))     # 61-90
    paid_part = _owe(session, supplier, e, "700.00", on - timedelta(days=91))  # 90+
    paid_all = _owe(session, supplier, e, "800.00", on - timedelta(days=120))  # paid: not open
    _pay(session, [
        (paid_all.variable_symbol, "800.00", on),
        (paid_part.variable_symbol, "250.50", on),  # 449.50 stays open
        ("99999999", "123.45", on),                   # nobody's: unmatched
        (None, "50.00", on - timedelta(days=1)),          # yesterday, no symbol: unmatched
    ])
    session.add_all([
        RouterAction(customer_id=b.id, router_name="r1", kind="list_add", list_name="warned",
                     address="10.0.0.2", status="pending", attempts=0),
        RouterAction(customer_id=c.id, router_name="r1", kind="list_add", list_name="blocked",
                     address="10.0.0.3", status="pending", attempts=2,
                     created_at=now() - timedelta(hours=3)),
        RouterAction(customer_id=d.id, router_name="r2", kind="kick", status="failed",
                     attempts=10),
        RouterAction(customer_id=d.id, router_name="r2", kind="kick", status="done", attempts=1),
        EnforcementMail(customer_id=b.id, kind="reminder1", to_address="c3002@example.cz",
                        status="failed", attempts=5, last_error="550 no such user"),
        EnforcementMail(customer_id=c.id, kind="reminder1", to_address="c3003@example.cz",
                        status="pending"),
        EnforcementMail(customer_id=d.id, kind="warning", to_address="c3004@example.cz",
                        status="sent"),
    ])
    session.commit()
    return on


def test_the_figures_of_known_data(session, supplier, make_customer):
    on = _known_data(session, supplier, make_customer)
    debt = overview.debt_by_age(session, on)
    got = {b.key: (b.amount, b.invoices, b.customers) for b in debt.buckets}
    assert got == {
        "not_due": (Decimal("1200.00"), 2, 1),
        "0-30": (Decimal("700.00"), 2, 1),
        "31-60": (Decimal("500.00"), 1, 1),
        "61-90": (Decimal("600.00"), 1, 1),
        "90+": (Decimal("449.50"), 1, 1),
    }
    assert debt.overdue_total == Decimal("2249.50")
    assert debt.open_total == Decimal("3449.50")

    pays = overview.payments(session, on)
    assert (pays.today.amount, pays.today.count) == (Decimal("1173.95"), 3)
    yesterday_this_month = (on - timedelta(days=1)).month == on.month
    assert (pays.this_month.amount, pays.this_month.count) == (
        (Decimal("1223.95"), 4) if yesterday_this_month else (Decimal("1173.95"), 3))
    assert (pays.unmatched, pays.unmatched_amount) == (2, Decimal("173.45"))

    routers = network.router_backlog(session)
    assert (routers.pending, routers.retrying, routers.failed) == (2, 1, 1)
    assert routers.oldest_pending is not None
    mails = network.mail_backlog(session)
    assert (mails.pending, mails.failed) == (1, 1)


def test_an_empty_database_shows_zeros(session):
    debt = overview.debt_by_age(session, today())
    assert debt.open_total == Decimal("0.00") and len(debt.buckets) == 5
    pays = overview.payments(session, today())
    assert (pays.today.amount, pays.this_month.count, pays.unmatched) == (Decimal("0.00"), 0, 0)
    assert network.router_backlog(session).pending == 0


def test_the_dashboard_page_shows_them(session, supplier, make_customer, console_client):
    _known_data(session, supplier, make_customer)
    html = console_client("readonly").get("/console/").get_data(as_text=True)
    assert 'data-bucket="90+"' in html and "CZK\u00a0449.50" in html
    assert "CZK\u00a02,249.50" in html  # overdue in all
    assert "2 waiting to be sent" in html and "1 failed" in html

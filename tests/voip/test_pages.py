"""The VoIP zone's pages as a customer sees them: credit and calls, the low-credit warning,
what a call costs, in Czech by default and in English on request; no page view changes data."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.models import AuditEvent, Invoice
from core.clock import PRAGUE, now
from voip import topups
from voip.lines import open_line
from voip.models import CallRecord, TopUp, VoipLine

NBSP = "\u00a0"


@pytest.fixture
def line(make_line, make_customer):
    customer = make_customer(number="3001", password="zone-pass-1")
    return make_line("+420601234567", password="voip-pass", customer=customer)


@pytest.fixture
def logged_in(voip_auth, client, line):
    assert voip_auth.login("567", "voip-pass").status_code == 302
    return client


def local(moment: datetime) -> str:
    return f"{moment.astimezone(PRAGUE):%Y-%m-%d %H:%M:%S}"


def credit(session, line, amount: str) -> None:
    open_line(session, line.id, Decimal(amount), actor="test")
    session.commit()


def test_overview_shows_credit_calls_totals_and_top_ups(cdr_row, import_calls, logged_in, session, line, tariff):
    credit(session, line, "100.00")
    base = now() - timedelta(hours=3)
    import_calls(session, [
        cdr_row("c1", "601234567", "+4930123456", local(base), 125),  # 60/1: 125 s at 1,21 Kč/min
        cdr_row("c2", "601234567", "777123456", local(base + timedelta(minutes=30)), 59),
        cdr_row("c3", "601234567", "777123456", local(base + timedelta(minutes=40)), 0, "NO ANSWER"),
    ])
    done = topups.top_up(session, line.id, Decimal("200"), "overview-key-123456", actor="test", ip=None,
                         cap_default=Decimal("1000"), supplier=topups.Supplier())
    session.commit()
    html = logged_in.get("/voip/").get_data(as_text=True)
    costs = session.scalars(select(CallRecord.cost).order_by(CallRecord.started_at)).all()
    assert costs == [Decimal("2.52"), Decimal("0.97")]
    assert f"296,51{NBSP}Kč" in html  # 100 - 2,52 - 0,97 + 200
    calls = html.split('class="calls"')[1]
    # newest first; numbers grouped, durations in words (issue 16)
    assert calls.index(f"+420{NBSP}777{NBSP}123{NBSP}456") < calls.index(f"+49{NBSP}30{NBSP}123{NBSP}456")
    assert f"2{NBSP}min{NBSP}5{NBSP}s" in calls and f"59{NBSP}s" in calls and "Německo – pevné linky" in calls
    assert "Česko – mobilní sítě" in calls
    months = html.split('class="months"')[1].split("</table>")[0]
    assert ">2<" in months and f"3{NBSP}min{NBSP}4{NBSP}s" in months and f"3,49{NBSP}Kč" in months
    invoice = session.get(Invoice, done.invoice_id)
    topups_table = html.split('class="topups"')[1]
    assert f'href="/invoices/{invoice.id}"' in topups_table and invoice.number in topups_table
    assert "neuhrazeno" in topups_table


def test_calls_are_paged(cdr_row, import_calls, logged_in, session, line, tariff):
    credit(session, line, "1000.00")
    start = now() - timedelta(days=2)
    import_calls(session, [
        cdr_row(f"p{i}", "601234567", "321000111", local(start + timedelta(minutes=i)), 10 + i) for i in range(55)
    ])
    first = logged_in.get("/voip/").get_data(as_text=True)
    # The shortest call (10 s) is the oldest: not on page 1. Match the duration cell.
    assert "Strana 1 z 2" in first and f'>10{NBSP}s<' not in first.split('class="calls"')[1]
    second = logged_in.get("/voip/?page=2").get_data(as_text=True)
    rows = second.split('class="calls"')[1].split("</table>")[0].count("<tr>") - 1
    assert rows == 5 and f'>10{NBSP}s<' in second and "Strana 2 z 2" in second


def test_low_credit_threshold(flash_texts, logged_in, session, line):
    r = logged_in.post("/voip/threshold", data={"threshold": "49,50"}, follow_redirects=True)
    assert "pošleme vám e-mail" in " ".join(flash_texts(r))
    session.rollback()
    session.expire_all()
    assert session.get(VoipLine, line.id).low_credit_threshold == Decimal("49.50")
    assert 'value="49,50"' in logged_in.get("/voip/").get_data(as_text=True)
    r = logged_in.post("/voip/threshold", data={"threshold": "hodně"}, follow_redirects=True)
    assert flash_texts(r) == ["Zadejte částku v Kč, např. 50 nebo 49,50."]
    logged_in.post("/voip/threshold", data={"threshold": ""})
    session.rollback()
    session.expire_all()
    assert session.get(VoipLine, line.id).low_credit_threshold is None
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.low_credit_threshold")).all()
    assert [(e.old_value, e.new_value) for e in events] == [(None, "49.50"), ("49.50", None)]


@pytest.mark.parametrize("typed", ["+49 151 2345 6789", "0049 15123456789", "+49-151-23456789"])
def test_what_a_call_to_a_german_mobile_costs(logged_in, session, line, tariff, typed):
    credit(session, line, "50.00")
    html = logged_in.get("/voip/tariff", query_string={"number": typed}).get_data(as_text=True)
    # the number grouped for reading, the matched prefix shown (issue 16)
    assert "Německo – mobilní sítě" in html and f"+49{NBSP}15{NBSP}123{NBSP}456{NBSP}789" in html
    assert 'data-prefix="49' in html
    assert f"4,235{NBSP}Kč" in html and f"3,50{NBSP}Kč" in html  # per minute with / without VAT
    assert "60/1" in html and f"0,605{NBSP}Kč" in html  # increments, connect fee with VAT
    # 1, 5 and 10 minutes: connect fee + minutes, with VAT
    assert f"4,84{NBSP}Kč" in html and f"21,78{NBSP}Kč" in html and f"42,96{NBSP}Kč" in html
    assert 'data-minutes="11"' in html and "vystačí na 11 minut" in html


def test_czech_numbers_typed_nationally(logged_in, line, tariff):
    html = logged_in.get("/voip/tariff?number=601+234+567").get_data(as_text=True)
    assert "Česko – mobilní sítě" in html and f"+420{NBSP}601{NBSP}234{NBSP}567" in html
    html = logged_in.get("/voip/tariff?number=00420321123456").get_data(as_text=True)
    assert "Česko – pevné linky" in html


def test_an_emergency_number_is_free_even_when_the_price_list_has_no_entry(logged_in, line,
                                                                           tariff):
    """The test price list's 420 prices +420 155 as a fixed line and has no entry that
    matches +420 150 once its 420 is gone: either way the page says free, never a price."""
    for number in ("155", "150", "156", "158", "112", "%2B420155"):
        html = logged_in.get(f"/voip/tariff?number={number}").get_data(as_text=True)
        assert "data-emergency" in html and "tísňové" in html.lower(), number
        assert "Pro volání na toto číslo nemáme cenu" not in html
        assert "data-price-vat" not in html  # no price of a fixed line beside it


def test_unknown_destination_and_nonsense(logged_in, line, tariff):
    html = logged_in.get("/voip/tariff?number=%2B81312345678").get_data(as_text=True)
    assert "Pro volání na toto číslo nemáme cenu" in html
    html = logged_in.get("/voip/tariff?number=abc").get_data(as_text=True)
    assert "Tomuto telefonnímu číslu nerozumíme" in html


def test_pages_are_czech_and_english_on_request(logged_in, line, tariff):
    for path, czech in (("/voip/", "Kredit a hovory"), ("/voip/tariff", "Kolik stojí hovor?"),
                        ("/voip/topup", "Dobít kredit")):
        html = logged_in.get(path).get_data(as_text=True)
        assert '<html lang="cs">' in html and czech in html and "Odhlásit se" in html
    logged_in.post("/language", data={"lang": "en", "next": "/voip/"})
    html = logged_in.get("/voip/").get_data(as_text=True)
    assert '<html lang="en">' in html and "Credit and calls" in html and "Kredit a hovory" not in html
    html = logged_in.get("/voip/topup/confirm?amount=200").get_data(as_text=True)
    assert "Do you really want to top up" in html


def test_page_views_change_nothing(logged_in, session, line, tariff):
    def snapshot():
        session.rollback()
        return [session.scalar(select(func.count()).select_from(t))
                for t in (VoipLine, TopUp, Invoice, AuditEvent, CallRecord)]

    before = snapshot()
    for path in ("/voip/", "/voip/?page=3", "/voip/tariff?number=4930123456", "/voip/topup",
                 "/voip/topup/confirm?amount=200", "/voip/topup/confirm?amount=7", "/voip/login"):
        assert logged_in.get(path).status_code in (200, 302)
    assert snapshot() == before


def test_client_zone_links_the_number_to_the_voip_zone(auth, client, line):

    auth.login("3001", "zone-pass-1")
    html = client.get("/services").get_data(as_text=True)
    assert '<a href="/voip/" title="VoIP zóna">+420 601 234 567</a>' in html


def test_a_long_threshold_gets_the_message_not_a_bare_400(logged_in, session, line, flash_texts):
    r = logged_in.post("/voip/threshold", data={"threshold": "1" * 23}, follow_redirects=True)
    assert r.status_code == 200
    assert flash_texts(r) == ["Zadejte částku v Kč, např. 50 nebo 49,50."]
    session.rollback()
    row = session.get(VoipLine, line.id)  # none yet: the refused request wrote nothing
    assert row is None or row.low_credit_threshold is None


@pytest.mark.parametrize(("number", "shown"), [
    ("420601234567", "+420 601 234 567"),
    ("601234567", "601 234 567"),
    ("+4915123456789", "+49 15 123 456 789"),
    ("0049301234567", "+49 301 234 567"),
    ("+12125550100", "+1 212 555 0100"),  # a one-digit country code (was +12 125 550 100)
    ("+421911617177", "+421 911 617 177"),  # a three-digit one (was +42 1 911 617 177)
    ("00421911617177", "+421 911 617 177"),
    ("+358401234567", "+358 401 234 567"),
    ("+447946095800", "+44 7 946 095 800"),
    ("1188", "1188"),
    ("abc", "abc"),
])
def test_called_numbers_are_grouped_after_their_country_code(number, shown):
    from voip.views import dialled

    assert dialled(number).replace(NBSP, " ") == shown

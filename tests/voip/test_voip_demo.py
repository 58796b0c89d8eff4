"""The VoIP part of the demo: 1001's line has a price list with domestic, mobile and foreign
prefixes, an opening credit, a month of rated calls and one top-up this month with its
invoice; two demo lines share their last digits to show the full-number prompt."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.invoicing.supplier import Supplier
from billing.models import Invoice, Service
from core.clock import prague_date, today
from core.db import money_sum
from voip import topups
from voip.models import CallRecord, TopUp, VoipLine


@pytest.fixture
def demo_db(app, monkeypatch):
    """The demo loaded the way ``ispzone demo`` loads it (billing, then the package hooks)."""
    from argon2 import PasswordHasher

    from billing import demo

    monkeypatch.setattr(
        demo, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash,
        raising=False,
    )
    with app.app_context():  # web's top-level commands expect the app context of FlaskGroup
        result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "VoIP demo:" in result.output and "567 / voip1001" in result.output
    return result.output


def test_demo_line_has_tariff_calls_credit_and_a_top_up(demo_db, session):
    from voip.tariffs import quote

    line = session.scalar(select(Service).where(Service.phone_number == "+420601234567"))
    on = today()
    for number, destination in [
        ("321 123 456", "Česko – pevné linky"), ("601 234 567", "Česko – mobilní sítě"),
        ("+49 30 1234567", "Německo – pevné linky"), ("+49 151 23456789", "Německo – mobilní sítě"),
        ("00421 2 1234 5678", "Slovensko – pevné linky"), ("+43 1 2345678", "Rakousko – pevné linky"),
        ("+48 22 1234567", "Polsko – pevné linky"), ("+44 20 12345678", "Velká Británie – pevné linky"),
        ("+1 212 5550123", "USA a Kanada"),
    ]:
        assert quote(session, number, on).destination == destination, number

    calls = session.scalars(select(CallRecord).where(CallRecord.service_id == line.id)).all()
    assert len(calls) >= 25
    days = {c.started_at.date() for c in calls}
    assert min(days) <= today() - timedelta(days=25) and all(c.cost >= 0 for c in calls)
    assert {c.destination for c in calls} >= {"Česko – mobilní sítě", "Česko – pevné linky"}

    (topup,) = session.scalars(select(TopUp).where(TopUp.service_id == line.id)).all()
    assert prague_date(topup.created_at) == today()  # this month
    assert topups.spent_in_month(session, line.id, topups.now()) == Decimal("200.00")
    invoice = session.get(Invoice, topup.invoice_id)
    assert invoice.kind == "voip_topup" and invoice.variable_symbol == "1001" and invoice.total == 200

    # the credit is the opening credit + top-ups - calls
    row = session.get(VoipLine, line.id)
    spent = session.scalar(select(money_sum(CallRecord.cost)).where(CallRecord.service_id == line.id))
    assert row.credit == row.opening_credit + topup.amount - spent > 0


def test_demo_logins(flash_texts, voip_auth, demo_db, client):
    assert voip_auth.login("567", "voip1001").status_code == 302
    html = client.get("/voip/").get_data(as_text=True)
    assert "+420 601 234 567" in html and 'class="calls"' in html
    client.post("/voip/logout")
    r = voip_auth.login("106", "voip1006")
    assert 'name="number"' in r.get_data(as_text=True)
    assert "Zadejte celé telefonní číslo" in " ".join(flash_texts(r))
    assert voip_auth.login("106", "voip1006", number="+420 321 720 106").status_code == 302


def test_demo_is_loaded_once(demo_db, app, session):
    before = session.scalar(select(func.count(TopUp.id)))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo"])
    assert "already loaded" in result.output and "VoIP demo" not in result.output
    session.rollback()
    assert session.scalar(select(func.count(TopUp.id))) == before


def test_voip_demo_without_billing_demo_does_nothing(session, app):
    from voip import demo

    assert demo.load(session, Supplier(), app.config) == ""

"""Coupon top-ups: credit at once, an invoice the customer pays in the client zone, at most
the monthly cap (calendar month in Prague), exactly one top-up per confirmation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from billing.documents import qrplatba
from billing.invoicing.supplier import Supplier
from billing.models import AuditEvent, Contract, Invoice
from core.clock import PRAGUE, today
from core.db import make_session_factory
from voip import topups
from voip.lines import open_line
from voip.models import TopUp, VoipLine

CAP = Decimal("1000")


@pytest.fixture
def line(session, make_line, make_customer):
    customer = make_customer(number="3001", password="zone-pass-1")
    contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
    contract.number = "880301"  # the VS of the contract, not the customer number
    session.commit()
    return make_line("+420601234567", password="voip-pass", customer=customer)


def top_up(session, line, amount, key=None, **kw):
    return topups.top_up(
        session,
        line.id,
        Decimal(amount),
        key or f"key-{amount}-{topups.now().timestamp()}-{id(kw)}",
        actor="test",
        ip="192.0.2.1",
        cap_default=kw.pop("cap_default", CAP),
        supplier=Supplier(),
        **kw,
    )


def counts(session, service_id) -> tuple[int, int, Decimal]:
    session.rollback()
    session.expire_all()  # see what other sessions committed
    n_topups = session.scalar(select(func.count(TopUp.id)).where(TopUp.service_id == service_id))
    n_invoices = session.scalar(select(func.count(Invoice.id)).where(Invoice.kind == "voip_topup"))
    row = session.get(VoipLine, service_id)
    return n_topups, n_invoices, row.credit if row else Decimal("0.00")


def test_top_up_adds_credit_and_issues_its_invoice(session, line):
    done = top_up(session, line, "200", key="k" * 20)
    session.commit()
    assert counts(session, line.id) == (1, 1, Decimal("200.00"))
    invoice = session.get(Invoice, done.invoice_id)
    assert invoice.kind == "voip_topup" and invoice.total == Decimal("200.00")
    assert invoice.variable_symbol == "880301"
    assert invoice.specific_symbol == invoice.number and invoice.number.isdigit()
    assert invoice.issue_date == invoice.taxable_date == today()
    assert invoice.due_date == today() + timedelta(days=14)
    (item,) = invoice.lines
    assert item.description == "Dobití kreditu VoIP +420 601 234 567"
    assert item.prices_include_vat and item.vat_rate == Decimal("21") and item.gross == Decimal("200.00")
    (recap,) = invoice.vat_recap
    assert (recap.base, recap.vat, recap.total) == (Decimal("165.29"), Decimal("34.71"), Decimal("200.00"))
    spayd = qrplatba.spayd_for_invoice(invoice, invoice.total)
    assert "AM:200.00" in spayd and "X-VS:880301" in spayd and f"X-SS:{invoice.number}" in spayd
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.topup")).one()
    assert (event.old_value, event.new_value, event.ip) == ("0.00", "200.00", "192.0.2.1")
    assert invoice.number in event.details


def test_over_the_cap_nothing_is_created(session, line):
    for amount in ("500", "300"):
        top_up(session, line, amount)
        session.commit()
    with pytest.raises(topups.CapExceeded) as refused:
        top_up(session, line, "300")
    session.rollback()
    assert refused.value.remaining == Decimal("200.00")
    assert counts(session, line.id) == (2, 2, Decimal("800.00"))
    top_up(session, line, "200")
    session.commit()
    with pytest.raises(topups.CapExceeded) as refused:
        top_up(session, line, "100")
    session.rollback()
    assert refused.value.remaining == Decimal("0.00")
    assert counts(session, line.id) == (3, 3, Decimal("1000.00"))


def test_cap_message_in_the_zone(confirm_key, flash_texts, voip_auth, client, session, line):
    top_up(session, line, "500")
    top_up(session, line, "300")
    session.commit()
    assert voip_auth.login("567", "voip-pass").status_code == 302
    page = client.get("/voip/topup").get_data(as_text=True)
    assert "Dobití tento měsíc: 800,00\u00a0Kč z 1\u00a0000,00\u00a0Kč" in page
    # issue 16: over the cap, the confirmation is not offered at all (one message, no
    # "Yes, top up" for what would be refused)
    r = client.get("/voip/topup/confirm?amount=300")
    assert r.status_code == 302 and r.headers["Location"].endswith("/voip/topup")
    page = client.get("/voip/topup").get_data(as_text=True)
    assert page.count('class="flash') == 1, page
    # a confirmation posted anyway (an old tab) is refused the same way
    r = client.post("/voip/topup/confirm", data={"amount": "300", "request_key": "k" * 32})
    assert r.status_code == 302 and r.headers["Location"].endswith("/voip/topup")
    (text,) = flash_texts(client.get("/voip/topup"))
    assert "měsíční limit 1\u00a0000,00\u00a0Kč" in text
    assert "ještě 200,00\u00a0Kč" in text
    # the support contacts the footer of the same page gives (SUPPORT_PHONE, SUPPORT_EMAIL)
    assert "podpora@priklad.net" in text and "+420 321 123 456" in text
    assert counts(session, line.id) == (2, 2, Decimal("800.00"))


def test_confirmation_submitted_twice_makes_one_top_up(confirm_key, voip_auth, client, session, line):
    voip_auth.login("567", "voip-pass")
    html = client.get("/voip/topup/confirm?amount=200").get_data(as_text=True)
    data = {"amount": "200", "request_key": confirm_key(html)}
    first = client.post("/voip/topup/confirm", data=data)
    second = client.post("/voip/topup/confirm", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert counts(session, line.id) == (1, 1, Decimal("200.00"))
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Kredit byl dobit o 200,00\u00a0Kč" in page and "880301" in page


def test_the_invoice_is_in_the_client_zone(auth, confirm_key, voip_auth, client, session, line):
    voip_auth.login("567", "voip-pass")
    html = client.get("/voip/topup/confirm?amount=200").get_data(as_text=True)
    client.post("/voip/topup/confirm", data={"amount": "200", "request_key": confirm_key(html)})
    invoice = session.scalars(select(Invoice).where(Invoice.kind == "voip_topup")).one()
    assert auth.login("3001", "zone-pass-1").status_code == 302
    listing = client.get("/invoices").get_data(as_text=True)
    # one name per document kind, as in the PDF (issue 16)
    assert invoice.number in listing and "Faktura – daňový doklad" in listing
    detail = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert "Dobití kreditu VoIP +420\u00a0601\u00a0234\u00a0567" in detail and "<svg" in detail  # QR Platba
    assert "880301" in detail


def test_only_offered_coupons_and_own_keys(voip_auth, client, session, line, make_line):
    other = make_line("+420602000222", password="other-pass")
    key = "x" * 24
    top_up(session, other, "100", key=key)
    session.commit()
    voip_auth.login("567", "voip-pass")
    r = client.get("/voip/topup/confirm?amount=150")
    assert r.status_code == 302
    assert client.post("/voip/topup/confirm", data={"amount": "150", "request_key": "y" * 24}).status_code == 400
    # another line's key neither shows nor repeats that line's top-up
    assert client.post("/voip/topup/confirm", data={"amount": "100", "request_key": key}).status_code == 400
    with pytest.raises(topups.InvalidRequestKey):
        top_up(session, line, "100", key=key)
    session.rollback()
    with pytest.raises(topups.InvalidCoupon):
        top_up(session, line, "150", coupons=(Decimal("100"), Decimal("200")))
    assert counts(session, line.id) == (0, 1, Decimal("0.00"))


def test_low_credit_flag_is_reset_when_credit_is_back(session, line):
    open_line(session, line.id, Decimal("10.00"), actor="test", threshold=Decimal("150.00"))
    session.get(VoipLine, line.id).low_credit_notified = True
    session.commit()
    top_up(session, line, "100")
    session.commit()
    assert session.get(VoipLine, line.id).low_credit_notified  # 110 < 150: still low
    top_up(session, line, "100")
    session.commit()
    assert not session.get(VoipLine, line.id).low_credit_notified


def test_month_boundary_is_midnight_in_prague(session, line):
    def at(*args):
        return time_machine.travel(datetime(*args, tzinfo=PRAGUE), tick=False)

    with at(2026, 11, 1, 0, 0, 10):  # 31 October 23:00:10 UTC: November in Prague
        top_up(session, line, "500")
        session.commit()
    with at(2026, 11, 30, 23, 59):
        top_up(session, line, "500")
        session.commit()
    with at(2026, 11, 30, 23, 59, 59), pytest.raises(topups.CapExceeded):
        top_up(session, line, "100")
    session.rollback()
    with at(2026, 12, 1, 0, 0, 30):  # 30 November 23:00:30 UTC: December in Prague
        done = top_up(session, line, "100")
        session.commit()
        assert topups.spent_in_month(session, line.id, topups.now()) == Decimal("100.00")
    assert session.get(Invoice, done.invoice_id).issue_date.isoformat() == "2026-12-01"
    assert counts(session, line.id) == (3, 3, Decimal("1100.00"))


def test_set_cap_command_is_audited(app, session, line, monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "cli")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["voip", "set-cap", "601 234 567", "1500"])
    assert r.exit_code == 0, r.output
    assert "default (1000 CZK) -> 1500.00 CZK" in r.output
    session.rollback()
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.topup_cap")).one()
    assert (event.old_value, event.new_value, event.actor) == ("default", "1500.00", "operator:cli")
    top_up(session, line, "500")
    top_up(session, line, "500")
    top_up(session, line, "500")
    session.commit()
    with pytest.raises(topups.CapExceeded):
        top_up(session, line, "100")
    session.rollback()
    r = runner.invoke(args=["voip", "set-cap", "+420601234567", "default"])
    assert r.exit_code == 0 and "1500.00 CZK -> default (1000 CZK)" in r.output
    assert runner.invoke(args=["voip", "set-cap", "+420601234567", "lots"]).exit_code != 0
    assert runner.invoke(args=["voip", "set-cap", "+420609999999", "100"]).exit_code != 0
    session.rollback()
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "voip.topup_cap")) == 2


# -- concurrency, on PostgreSQL (SQLite serialises writers anyway) -----------------------------


def _in_threads(engine, n, work):
    """Run ``work(session, i)`` in ``n`` threads at once, each with its own session."""
    factory = make_session_factory(engine)
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        s = factory()
        try:
            barrier.wait()
            results[i] = work(s, i)
            s.commit()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            s.rollback()
            results[i] = exc
        finally:
            s.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.postgres
def test_cap_race_fifty_confirmations(need, pg_url, engine, session, line):
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    engine.pool.dispose()
    from sqlalchemy import create_engine

    wide = create_engine(engine.url, pool_size=55, max_overflow=0)
    results = _in_threads(wide, 50, lambda s, i: top_up(s, line, "100", key=f"race-{i:04d}-xxxxxxxxxx").id)
    wide.dispose()
    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, topups.CapExceeded)]
    assert len(accepted) == 10 and len(refused) == 40, [r for r in results if isinstance(r, Exception)][:3]
    assert counts(session, line.id) == (10, 10, Decimal("1000.00"))
    invoices = session.scalars(select(Invoice).where(Invoice.kind == "voip_topup")).all()
    assert sum(i.total for i in invoices) == Decimal("1000.00")
    assert len({i.number for i in invoices}) == 10
    linked = set(session.scalars(select(TopUp.invoice_id)))
    assert linked == {i.id for i in invoices}


@pytest.mark.postgres
def test_same_confirmation_concurrently_makes_one_top_up(need, pg_url, engine, session, line):
    need(pg_url is not None, "TEST_DATABASE_URL (PostgreSQL) is not set")
    from sqlalchemy import create_engine
    from sqlalchemy.exc import IntegrityError

    wide = create_engine(engine.url, pool_size=25, max_overflow=0)
    key = "double-click-" + "z" * 12
    results = _in_threads(wide, 20, lambda s, i: top_up(s, line, "200", key=key).id)
    wide.dispose()
    ids = {r for r in results if isinstance(r, int)}
    others = [r for r in results if not isinstance(r, int)]
    assert len(ids) == 1 and all(isinstance(r, IntegrityError) for r in others), others[:3]
    assert counts(session, line.id) == (1, 1, Decimal("200.00"))

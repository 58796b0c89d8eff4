"""The VoIP zone end to end in a real headless Chromium (Debian's /usr/bin/chromium, driven
by Playwright), with CSRF protection on and the demo ISP loaded: 1001 logs in with the last
digits of +420 601 234 567, asks what a call to Germany costs, tops up 200 Kč, and finds the
invoice in the client zone.

Elements are found by URL, input name and role; texts checked are data (destinations,
numbers, invoice lines), not translations, except where the language switch is tested.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.test_browser import _path


@pytest.mark.browser
def test_voip_customer_tops_up_and_sees_the_invoice(live_browser, cheap_demo_passwords):
    from billing import demo
    from billing.invoicing.supplier import Supplier
    from billing.models import Invoice, Service
    from voip.models import TopUp, VoipLine

    live = live_browser()
    app = live.app
    with live.sessions() as s:
        assert demo.load(s, Supplier()).startswith("demo loaded")
        for hook in app.extensions["ispzone.demo_hooks"]:
            hook(s, Supplier(), app.config)
        s.commit()
        line = s.scalar(select(Service).where(Service.phone_number == "+420601234567"))
        credit_before = s.get(VoipLine, line.id).credit

    invoice_href = _walk_through(live.page, live.base)
    # issue 13: the VoIP pages live with the Content-Security-Policy too
    assert live.csp_violations() == [], live.messages

    with live.sessions() as s:
        row = s.get(VoipLine, line.id)
        assert row.credit == credit_before + Decimal("200.00")
        latest = s.scalars(select(TopUp).where(TopUp.service_id == line.id).order_by(TopUp.id.desc())).first()
        assert latest.amount == Decimal("200.00") and latest.actor == "voip:+420601234567"
        invoice = s.get(Invoice, latest.invoice_id)
        assert invoice_href == f"/invoices/{invoice.id}"
        assert invoice.variable_symbol == "1001" and invoice.specific_symbol == invoice.number


def _walk_through(page, base: str) -> str:
    main_submit = 'main form button[type="submit"]'

    # -- log in with the last three digits ----------------------------------------------------
    page.goto(f"{base}/voip/")
    page.wait_for_url(re.compile(r"/voip/login"))
    assert page.locator("html").get_attribute("lang") == "cs"
    page.fill('input[name="suffix"]', "567")
    page.fill('input[name="password"]', "voip1001")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"/voip/$"))
    assert "+420 601 234 567" in page.inner_text("header")
    assert page.locator("table.calls tbody tr").count() >= 10  # the demo's month of calls

    # -- what does a call to Germany cost -------------------------------------------------------
    page.click('nav a[href="/voip/tariff"]')
    page.wait_for_url(re.compile(r"/voip/tariff$"))
    page.fill('input[name="number"]', "+49 30 1234 5678")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"/voip/tariff\?number="))
    card = page.inner_text("main section.card")
    assert "Německo – pevné linky" in card and "prvních 60 sekund" in card.replace("\u00a0", " ")
    assert page.locator("[data-price-vat]").inner_text().startswith("1,20")  # 0,99 + 21 %, rounded
    assert "1,1979" in page.inner_html("main details.exact")  # the exact price in the detail
    page.fill('input[name="number"]', "0049 151 2345 6789")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"number=0049"))
    assert "Německo – mobilní sítě" in page.inner_text("main section.card")

    # -- top up 200 Kč ---------------------------------------------------------------------
    page.click('nav a[href="/voip/topup"]')
    page.wait_for_url(re.compile(r"/voip/topup$"))
    page.click('main button[name="amount"][value="200"]')
    page.wait_for_url(re.compile(r"/voip/topup/confirm\?amount=200"))
    assert "200,00" in page.inner_text("main h1")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"/voip/topup/\d+$"))
    link = page.locator('main a[href^="/invoices/"]')
    invoice_href = link.get_attribute("href")
    invoice_number = link.inner_text().strip()
    assert re.fullmatch(r"\d{10}", invoice_number)

    # -- English on request -----------------------------------------------------------------
    page.click('header button[name="lang"][value="en"]')
    page.wait_for_url(re.compile(r"/voip/topup/\d+"))
    assert page.locator("html").get_attribute("lang") == "en"

    # -- the invoice in the client zone (a separate login) -------------------------------------
    page.goto(f"{base}{invoice_href}")
    page.wait_for_url(re.compile(r"/login"))
    page.fill('input[name="customer_number"]', "1001")
    page.fill('input[name="password"]', "demo1001")
    page.click(main_submit)
    page.wait_for_url(re.compile(re.escape(invoice_href) + "$"))
    main = page.inner_text("main").replace("\u00a0", " ")
    assert invoice_number in main and "Dobití kreditu VoIP +420 601 234 567" in main
    assert page.locator("main svg").count() >= 1  # QR Platba
    page.click('nav a[href="/invoices"]')
    page.wait_for_url(re.compile(r"/invoices$"))
    assert page.locator(f'main a[href="{invoice_href}"]').count() == 1

    # -- logging out of the VoIP zone leaves the client zone open ------------------------------
    page.goto(f"{base}/voip/")
    if _path(page) == "/voip/":
        page.click('header form[action="/voip/logout"] button[type="submit"]')
        page.wait_for_url(re.compile(r"/voip/login$"))
    page.goto(f"{base}/info")
    assert _path(page) == "/info"
    return invoice_href

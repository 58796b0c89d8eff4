"""The console on a phone (390 x 844) in a real headless Chromium: the demo's busiest pages
(the customer search, a customer card, the reports, the enforcement cases, the routers, a
service) never scroll sideways as a whole; a wide table scrolls inside itself."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from billing.models import Customer, Service

WIDTH = 390


@pytest.mark.browser
def test_the_consoles_pages_fit_a_phone(live_browser, operator, session):
    live = live_browser()
    result = live.app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    session.rollback()
    customer = session.scalar(select(Customer.id).where(Customer.customer_number == "1001"))
    service = session.scalar(select(Service.id).where(Service.pppoe_username == "novak1001"))
    operator("admin", login="mobil", name="Operátor na telefonu")
    page = live.new_page(viewport={"width": WIDTH, "height": 844}, is_mobile=True)
    page.goto(f"{live.base}/console/login")
    page.fill('input[name="login"]', "mobil")
    page.fill('input[name="password"]', "operator-pass-1")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/$"))
    wide = {}
    for path in ("/console/", "/console/customers?q=novak", f"/console/customers/{customer}",
                 "/console/reports", "/console/enforcement", "/console/enforcement/routers",
                 f"/console/services/{service}", "/console/payments", "/console/audit"):
        page.goto(live.base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            wide[path] = width
    assert wide == {}, wide
    # the customers table is all there, confined to the screen: it scrolls inside itself
    page.goto(live.base + "/console/customers?q=novak")
    table = page.locator("table.customers").first
    assert table.evaluate("t => t.clientWidth <= 390 && t.scrollWidth > t.clientWidth")
    assert live.csp_violations() == [], live.messages

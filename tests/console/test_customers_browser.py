"""The customer pages in a real headless Chromium (Playwright): search as you type (htmx,
no Enter pressed), the card, viewing the zone as the customer with its banner and the way
back, under the Content-Security-Policy. CSRF protection is on."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select


@pytest.mark.browser
def test_search_as_you_type_card_and_view_as(live_browser, make_customer):
    from billing import operators
    from billing.models import AuditEvent, UserSession

    novak = make_customer("1001", name="Jan Novák", email="jan@example.cz", password=None)
    make_customer("1002", name="Petr Dvořák", email="petr@example.cz", password=None)
    live = live_browser({"CONSOLE_TOTP_REQUIRED": ""})
    sessions = live.sessions
    with sessions() as s:
        operators.create(s, "eva", role="support", password="operator-pass-1",
                         actor="system:test")
        s.commit()

    base, page = live.base, live.page

    page.goto(f"{base}/console/login")
    page.fill('input[name="login"]', "eva")
    page.fill('input[name="password"]', "operator-pass-1")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/$"))

    page.goto(f"{base}/console/customers")
    page.locator("#customer-q").press_sequentially("novak", delay=40)
    # no Enter: htmx asks as the operator types and swaps the results
    page.wait_for_selector('#results a:has-text("Jan Novák")')
    assert "Petr Dvořák" not in page.inner_text("#results")
    page.wait_for_url(re.compile(r"q=novak"))

    page.click(f'#results a[href="/console/customers/{novak.id}"] >> nth=0')
    page.wait_for_url(re.compile(rf"/console/customers/{novak.id}$"))
    page.click(f'form[action="/console/customers/{novak.id}/view-as"] button')
    page.wait_for_url(re.compile(r"/info$"))
    banner = page.inner_text(".view-as-banner")
    assert "eva" in banner and "1001" in banner

    page.goto(f"{base}/info/edit")
    page.fill('main form input[name="city"]', "Praha")
    page.click('main form button[type="submit"]')
    assert page.locator("main h1").count() == 1
    assert "Praha" not in page.inner_text("main")

    page.click('.view-as-banner button[type="submit"]')
    page.wait_for_url(re.compile(rf"/console/customers/{novak.id}$"))
    assert live.csp_violations() == [], live.messages

    with sessions() as s:
        assert s.scalar(select(UserSession.id)) is None  # no session left behind
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.customer_id == novak.id, AuditEvent.actor == "operator:eva")))
        assert actions == ["customer.viewed_as", "customer.view_as_ended"]
        from billing.models import Customer
        assert s.get(Customer, novak.id).city == "Kolín"

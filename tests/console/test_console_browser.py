"""An operator in a real headless Chromium (Debian's /usr/bin/chromium, Playwright): logs in
with the password and a TOTP code, sees the dashboard, reads the audit trail naming them,
logs out. CSRF protection is on; the pages raise no Content-Security-Policy violation and
htmx (vendored) loads. Elements are found by URL, name and role, not by Czech text."""

from __future__ import annotations

import re

import pyotp
import pytest


@pytest.mark.browser
def test_an_operator_logs_in_with_totp_and_reads_the_dashboard_and_audit_trail(
        live_browser, operator, session, make_customer):
    op = operator("admin", login="jana", totp=True, name="Jana Správcová")
    make_customer(number="1001", name="Jan Novák")
    live = live_browser()
    base, page = live.base, live.page

    page.goto(f"{base}/console/")
    page.wait_for_url(re.compile(r"/console/login"))
    # keyboard: the first Tab reaches the skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#content"
    page.fill('input[name="login"]', "jana")
    page.fill('input[name="password"]', "operator-pass-1")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/login/code"))
    page.fill('input[name="code"]', pyotp.TOTP(op.totp_secret).now())
    page.press('input[name="code"]', "Enter")
    page.wait_for_url(re.compile(r"/console/$"))
    assert "Jana Správcová" in page.inner_text("header")
    assert page.locator("#debt-by-age tbody tr").count() == 5
    assert page.locator(".tile").count() >= 6
    assert page.evaluate("typeof htmx") == "object"

    page.click('nav a[href="/console/audit"]')
    page.wait_for_url(re.compile(r"/console/audit"))
    actors = page.locator("td.actor").all_inner_texts()
    assert "operator:jana" in actors
    page.fill('input[name="actor"]', "jana")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url(re.compile(r"actor=jana"))
    assert set(page.locator("td.actor").all_inner_texts()) == {"operator:jana"}

    page.click('header form[action="/console/logout"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/login"))
    page.goto(f"{base}/console/audit")
    page.wait_for_url(re.compile(r"/console/login"))
    assert live.csp_violations() == [], live.messages

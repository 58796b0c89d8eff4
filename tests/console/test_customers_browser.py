"""The customer pages in a real headless Chromium (Playwright): search as you type (htmx,
no Enter pressed), the card, viewing the zone as the customer with its banner and the way
back, under the Content-Security-Policy. CSRF protection is on."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.browser
def test_search_as_you_type_card_and_view_as(need, app_config, make_customer):
    need(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    need(sync_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    from werkzeug.serving import make_server

    from app import create_app
    from billing import operators
    from billing.models import AuditEvent, UserSession

    novak = make_customer("1001", name="Jan Novák", email="jan@example.cz", password=None)
    make_customer("1002", name="Petr Dvořák", email="petr@example.cz", password=None)
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True, "CONSOLE_TOTP_REQUIRED": ""})
    sessions = app.extensions["ispzone.sessions"]
    with sessions() as s:
        operators.create(s, "eva", role="support", password="operator-pass-1",
                         actor="system:test")
        s.commit()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=ARGS)
            try:
                page = browser.new_context().new_page()
                page.set_default_timeout(20_000)
                messages: list[str] = []
                page.on("console", lambda m: messages.append(m.text))
                page.on("pageerror", lambda e: messages.append(str(e)))

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
                assert [m for m in messages if "Content Security Policy" in m] == [], messages
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

    with sessions() as s:
        assert s.scalar(select(UserSession.id)) is None  # no session left behind
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.customer_id == novak.id, AuditEvent.actor == "operator:eva")))
        assert actions == ["customer.viewed_as", "customer.view_as_ended"]
        from billing.models import Customer
        assert s.get(Customer, novak.id).city == "Kolín"
    app.extensions["ispzone.engine"].dispose()

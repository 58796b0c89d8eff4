"""An operator in a real headless Chromium (Debian's /usr/bin/chromium, Playwright): logs in
with the password and a TOTP code, sees the dashboard, reads the audit trail naming them,
logs out. CSRF protection is on; the pages raise no Content-Security-Policy violation and
htmx (vendored) loads. Elements are found by URL, name and role, not by Czech text."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pyotp
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.browser
def test_an_operator_logs_in_with_totp_and_reads_the_dashboard_and_audit_trail(
        need, app_config, operator, session, make_customer):
    need(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    need(sync_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    from werkzeug.serving import make_server

    from app import create_app

    op = operator("admin", login="jana", totp=True, name="Jana Správcová")
    make_customer(number="1001", name="Jan Novák")
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                page = browser.new_page()
                page.set_default_timeout(20_000)
                messages: list[str] = []
                page.on("console", lambda m: messages.append(m.text))
                page.on("pageerror", lambda e: messages.append(str(e)))

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
                assert [m for m in messages if "Content Security Policy" in m] == [], messages
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["ispzone.engine"].dispose()

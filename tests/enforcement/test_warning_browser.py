"""The warning in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The app runs in werkzeug on 127.0.0.1 with CSRF protection on. The customer's service has the
address 127.0.0.1, so the browser is "the warned customer's computer". Chromium's host
resolver maps a foreign site to 127.0.0.1, which is what the router's dst-nat does: the
browser asks for somebody else's page and gets ours, is sent to /warning, clicks
"Beru na vědomí" and sees the disconnection date; the client zone then shows the countdown.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from core.clock import today
from enforcement.models import EnforcementCase, RouterAction
from tests.enforcement.test_warning import czech_date, overdue_invoice, set_state
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _import_playwright

FOREIGN = "zpravy.example.com"


@pytest.mark.browser
def test_warned_customer_acknowledges_in_a_browser(need, app_config, session, make_customer):
    need(CHROMIUM.exists(), "Debian's chromium is not installed (apt-get install chromium)")
    sync_playwright = _import_playwright()
    need(sync_playwright is not None, "playwright is not installed (pip install -e '.[test]')")
    from werkzeug.serving import make_server

    from app import create_app

    customer = make_customer(number="4301", password="secret-pass", internet_ip="127.0.0.1")
    overdue_invoice(session, customer)
    set_state(session, customer, "warned")

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = base
    thread = threading.Thread(target=server.serve_forever, name="e3b-warning", daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {FOREIGN} 127.0.0.1"],
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(20_000)
                console: list[str] = []
                page.on("console", lambda message: console.append(message.text))
                _acknowledge(page, base)
                # issue 13: the warning page lives with the Content-Security-Policy too
                assert [m for m in console if "Content Security Policy" in m] == [], console
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["ispzone.engine"].dispose()

    session.rollback()
    case = session.get(EnforcementCase, customer.id)
    assert case.state == "acknowledged" and case.acknowledged_ip == "127.0.0.1"
    assert case.acknowledged_by == "ip:127.0.0.1"
    action = session.query(RouterAction).one()
    assert (action.kind, action.list_name, action.address) == ("list_remove", "warned", "127.0.0.1")


def _acknowledge(page, base: str) -> None:
    due = czech_date(today() + timedelta(days=10))
    port = base.rsplit(":", 1)[1]

    # somebody else's site, answered by us: redirected to the warning on our own URL
    page.goto(f"http://{FOREIGN}:{port}/clanek/123?utm=x")
    page.wait_for_url(f"{base}/warning")
    assert "Beru na vědomí" in page.inner_text("main")
    assert page.locator("main svg.qr-platba").count() == 1
    assert "4301" in page.inner_text("main")

    page.click('main form[action="/warning/acknowledge"] button[type="submit"]')
    page.wait_for_url(f"{base}/warning")
    text = page.inner_text("main")
    assert page.locator('main [role="status"]').count() == 1  # "Děkujeme..."
    assert due in text and "Zbývá 10 dní" in text
    assert page.locator('main form[action="/warning/acknowledge"]').count() == 0

    # the client zone shows the same date and the countdown in a banner
    page.goto(f"{base}/login")
    page.fill('input[name="customer_number"]', "4301")
    page.fill('input[name="password"]', "secret-pass")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/info$"))
    banner = page.inner_text("aside.enforcement-banner")
    assert due in banner and "Zbývá 10 dní" in banner

"""The warning in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The app runs in werkzeug on 127.0.0.1 with CSRF protection on. The customer's service has the
address 127.0.0.1, so the browser is "the warned customer's computer". Chromium's host
resolver maps a foreign site to 127.0.0.1, which is what the router's dst-nat does: the
browser asks for somebody else's page and gets ours, is sent to /warning, clicks
"Beru na vědomí" and sees the disconnection date; the client zone then shows the countdown.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.clock import today
from enforcement.models import EnforcementCase, RouterAction
from tests.enforcement.test_warning import czech_date, overdue_invoice, set_state

FOREIGN = "zpravy.example.com"


@pytest.mark.browser
def test_warned_customer_acknowledges_in_a_browser(live_browser, session, make_customer):
    customer = make_customer(number="4301", password="secret-pass", internet_ip="127.0.0.1")
    overdue_invoice(session, customer)
    set_state(session, customer, "warned")

    live = live_browser(chromium_args=[f"--host-resolver-rules=MAP {FOREIGN} 127.0.0.1"])
    live.app.config["PUBLIC_URL"] = live.base
    _acknowledge(live.page, live.base)
    # issue 13: the warning page lives with the Content-Security-Policy too
    assert live.csp_violations() == [], live.messages

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

"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The real app is served by werkzeug in a background thread with CSRF protection switched on
(the ``live_browser`` fixture of tests/conftest.py, which every Chromium test shares), the
demo ISP is loaded, and a customer goes through the zone the way a person would: log in,
invoices, one invoice and its PDF, a change of the phone number, log out.

Elements are found by URL, input name and role, not by (Czech) text, so that the test does
not depend on the translations.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select


def _import_pypdf():
    try:
        import pypdf
    except ImportError:
        return None
    return pypdf


@pytest.mark.browser
def test_customer_walks_through_the_zone(need, live_browser, cheap_demo_passwords, tmp_path):
    pypdf = _import_pypdf()
    need(pypdf is not None, "pypdf is not installed (pip install -e '.[test]')")

    from billing import demo
    from billing.invoicing.supplier import Supplier
    from billing.models import AuditEvent, Customer
    from core.passwords import needs_rehash

    live = live_browser(context={"accept_downloads": True})
    with live.sessions() as s:
        demo.load(s, Supplier())
        s.commit()

    page = live.page
    _walk_through(page, live.base, tmp_path, pypdf)
    # issue 13: the pages live with the Content-Security-Policy (no inline script or style),
    # so Chromium reports no violation on any of them
    assert live.csp_violations() == [], live.messages
    page.goto(f"{live.base}/login")
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(300)
    assert live.csp_violations(), "the console listener would not have seen a violation"

    # What the browser did is in the database: the phone normalised, and audited.
    with live.sessions() as s:
        customer = s.scalar(select(Customer).where(Customer.customer_number == "1001"))
        assert customer.phone == "+420602111222"
        audit = s.scalars(
            select(AuditEvent).where(
                AuditEvent.customer_id == customer.id, AuditEvent.field == "phone"
            )
        ).all()
        assert audit, "no audit event for the phone change"
        assert audit[-1].new_value == "+420602111222"
        # the first login replaced the cheap demo hash with a production-strength one
        assert not needs_rehash(customer.password_hash)


def _path(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]


def _walk_through(page, base: str, tmp_path: Path, pypdf) -> None:
    main_submit = 'main form button[type="submit"]'

    # -- log in through the form (a real CSRF token travels with it) -------------------------
    page.goto(f"{base}/")
    page.wait_for_url(re.compile(r"/login"))
    assert page.locator('input[name="csrf_token"]').first.get_attribute("value")
    page.fill('input[name="customer_number"]', "1001")
    page.fill('input[name="password"]', "demo1001")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"/info$"))
    assert page.locator('form[action="/logout"]').count() == 1
    assert "Novák" in page.inner_text("header")

    # -- invoices: the list, one invoice, its PDF ---------------------------------------------
    page.click('nav a[href="/invoices"]')
    page.wait_for_url(re.compile(r"/invoices$"))
    detail_links = page.locator('main a[href^="/invoices/"]:not([href$=".pdf"])')
    assert detail_links.count() >= 1, "no invoices listed"
    href = detail_links.first.get_attribute("href")
    detail_links.first.click()
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    assert page.locator("main h1").count() == 1

    pdf_link = page.locator(f'main a[href="{href}.pdf"]')
    assert pdf_link.count() == 1, "no PDF link on the invoice page"
    with page.expect_download() as download_info:
        pdf_link.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF"), data[:20]
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    assert "Novák" in text

    # -- the data transfer chart (inline SVG) -------------------------------------------------
    page.goto(f"{base}/traffic")
    assert page.locator("main figure.chart svg").count() == 1

    # -- change the phone number ---------------------------------------------------------------
    page.click('nav a[href="/info"]')
    page.wait_for_url(re.compile(r"/info$"))
    page.click('main a[href="/info/edit"]')
    page.wait_for_url(re.compile(r"/info/edit$"))
    page.fill('main form input[name="phone"]', "602 111 222")
    page.click(main_submit)
    page.wait_for_url(re.compile(r"/info$"))
    assert page.locator('main [role="status"]').count() >= 1  # the "saved" message
    assert "+420 602 111 222" in page.inner_text("main")

    # -- log out: the zone is closed again -----------------------------------------------------
    page.click('header form[action="/logout"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/login$"))
    assert page.locator('form[action="/logout"]').count() == 0
    page.goto(f"{base}/info")
    assert _path(page) == "/login", page.url
    assert page.locator('input[name="customer_number"]').count() == 1

"""An operator's day in a real headless Chromium (Debian's /usr/bin/chromium, Playwright),
on the demo ISP (``ispzone demo``), reading the console in Czech: the demo's ``admin`` logs
in with the password and a TOTP code (the secret README prints), finds "novak" by typing in
the search box, creates a customer and gives them an internet service with an IP address,
a router and typed PPPoE credentials, issues a one-off invoice, takes a cash payment (the
receipt's number), pairs an unmatched payment of the demo's statement with the new customer,
exempts the demo's warned customer 1002 from enforcement, and at the end reads the audit
trail naming ``operator:admin`` for every one of these acts. CSRF protection is on; the
pages raise no Content-Security-Policy violation. The demo has both an unmatched payment
and an enforcement case: nothing is created outside the browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

NBSP = "\u00a0"


def text(page, selector: str) -> str:
    """What the operator reads there, with the Czech format's no-break spaces as spaces."""
    return page.inner_text(selector).replace(NBSP, " ")


def czech_day(day) -> str:
    return f"{day.day}. {day.month}. {day.year}"


@pytest.mark.browser
def test_an_operators_day_in_the_browser(live_browser, cheap_demo_passwords):
    from billing.models import BankTransaction, CashReceipt, Customer, Invoice, Service
    from console.demo import DEMO_TOTP_SECRET
    from core.clock import today
    from enforcement.models import EnforcementCase

    # the demo's ~40 passwords hashed with cheap argon2id parameters (cheap_demo_passwords)
    live = live_browser(context={"locale": "cs-CZ"})
    app = live.app
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    sessions = app.extensions["ispzone.sessions"]
    with sessions() as s:
        novak_id = s.scalar(select(Customer.id).where(Customer.customer_number == "1001"))
        warned = s.scalar(select(Customer).join(
            EnforcementCase, EnforcementCase.customer_id == Customer.id).where(
            Customer.customer_number == "1002"))
        assert warned is not None and not warned.enforcement_exempt  # the demo's warned case
        warned_id = warned.id
        assert s.scalar(select(BankTransaction.id).where(
            BankTransaction.status == "unmatched")) is not None  # the demo's statement has some

    exempt_until = today() + timedelta(days=30)
    base, page = live.base, live.page

    # -- log in with the password and the authenticator app's code ------------
    page.goto(f"{base}/console/")
    page.wait_for_url(re.compile(r"/console/login"))
    page.fill('input[name="login"]', "admin")
    page.fill('input[name="password"]', "demo-admin")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/login/code"))
    page.fill('input[name="code"]', pyotp.TOTP(DEMO_TOTP_SECRET).now())
    page.press('input[name="code"]', "Enter")
    page.wait_for_url(re.compile(r"/console/$"))
    assert "Demo Admin" in page.inner_text("header")

    # -- find "novak": search as you type, no diacritics ----------------------
    page.click('nav a[href="/console/customers"]')
    page.wait_for_url(re.compile(r"/console/customers"))
    page.locator("#customer-q").press_sequentially("novak", delay=40)
    page.wait_for_selector('#results a:has-text("Novák")')
    page.click(f'#results a[href="/console/customers/{novak_id}"] >> nth=0')
    page.wait_for_url(re.compile(rf"/console/customers/{novak_id}$"))
    assert text(page, "main h1").startswith("1001")
    assert "Novák" in text(page, "main h1")

    # -- a new customer --------------------------------------------------------
    page.click('nav a[href="/console/customers"]')
    page.click('main a[href="/console/customers/new"]')
    page.wait_for_url(re.compile(r"/console/customers/new$"))
    page.fill('input[name="name"]', "Alena Nováčková")
    page.fill('input[name="street"]', "Polní 12")
    page.fill('input[name="city"]', "Kolín")
    page.fill('input[name="postal_code"]', "280 02")
    page.fill('input[name="email"]', "alena.novackova@example.cz")
    page.fill('input[name="phone"]', "601 234 567")
    page.click('form.customer-form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/customers/\d+$"))
    heading = text(page, "main h1")
    assert "Alena Nováčková" in heading
    number = heading.split(" ")[0]
    new_id = int(page.url.rsplit("/", 1)[1])

    # -- an internet service with PPPoE credentials ----------------------------
    page.click(f'a[href="/console/customers/{new_id}/services/new"]')
    page.wait_for_url(re.compile(r"/services/new$"))
    page.select_option('select[name="kind"]', "internet")
    page.fill('input[name="name"]', "Internet 100")
    page.fill('input[name="price"]', "450")
    page.fill('input[name="download_kbps"]', "100000")
    page.fill('input[name="upload_kbps"]', "20000")
    page.fill('input[name="ips"]', "10.77.7.7")
    router = page.locator('select[name="router_name"] option').nth(1)
    router_name = router.get_attribute("value") or router.inner_text()
    page.select_option('select[name="router_name"]', router_name)
    page.fill('input[name="pppoe_username"]', "novackova-alena")
    page.check('input[name="pppoe_mode"][value="typed"]')
    page.fill('input[name="pppoe_password"]', "Zelena-Louka-2026")
    page.click('form.service-form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/services/\d+$"))
    page.goto(f"{base}/console/customers/{new_id}")
    services = text(page, "table.services")
    assert "Internet 100" in services and "10.77.7.7" in services
    assert router_name in services
    assert page.inner_text("table.services code.pppoe-user") == "novackova-alena"
    page.click("table.services details.secret summary")  # admin may see it
    assert page.inner_text("code.pppoe-password") == "Zelena-Louka-2026"

    # -- a one-off invoice, its total in Czech format -------------------------
    page.click(f'a[href="/console/customers/{new_id}/invoices/new"]')
    page.wait_for_url(re.compile(r"/invoices/new$"))
    page.fill('input[name="description_1"]', "Instalace a konfigurace routeru")
    page.fill('input[name="quantity_1"]', "1")
    page.fill('input[name="price_1"]', "1234,50")
    page.uncheck('input[type="checkbox"][name="email"]')
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/invoices/\d+$"))
    invoice_page = text(page, "main")
    assert "1 234,50 Kč" in invoice_page
    invoice_number = text(page, "main h1").split()[1]
    assert invoice_number in invoice_page

    # -- a cash payment and its receipt number --------------------------------
    page.goto(f"{base}/console/customers/{new_id}")
    page.click(f'a[href="/console/customers/{new_id}/cash"]')
    page.wait_for_url(re.compile(r"/cash$"))
    assert invoice_number in text(page, "main")  # the open invoice it settles
    page.fill('input[name="amount"]', "500")
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/console/cash-receipts/\d+$"))
    receipt_heading = text(page, "main h1")
    receipt_number = receipt_heading.split()[-1]
    assert re.search(r"\d", receipt_number), receipt_heading
    assert "500,00 Kč" in text(page, "main dl")
    assert number in text(page, "main dl")

    # -- pair an unmatched payment with the new customer ----------------------
    page.click('nav a[href="/console/payments"]')
    page.click('a[href="/console/payments/unmatched"]')
    page.wait_for_url(re.compile(r"/console/payments/unmatched$"))
    row = page.locator("main tbody tr").first
    tx_id = int(row.locator("td").first.inner_text())
    tx_amount = row.locator("td.num").inner_text().replace(NBSP, " ")
    row.locator('input[name="customer"]').fill(number)
    row.locator('form[action$="/assign"] button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/console/payments/unmatched$"))
    page.wait_for_selector(".flash")
    assert page.locator(
        f'form[action="/console/payments/{tx_id}/assign"]').count() == 0
    page.goto(f"{base}/console/customers/{new_id}")
    paired = page.locator("table.payments tbody tr").filter(has_text=tx_amount)
    assert paired.count() == 1
    assert paired.locator("td").last.inner_text() == "spárováno"  # the Czech label of "matched"
    assert page.locator("table.payments tbody tr").filter(
        has_text="500,00").count() == 1  # the cash payment, beside it

    # -- exempt the warned customer's case ------------------------------------
    page.click('nav a[href="/console/enforcement"]')
    page.click(f'a[href="/console/enforcement/cases/{warned_id}"]')
    page.wait_for_url(re.compile(rf"/console/enforcement/cases/{warned_id}$"))
    page.check('form.exempt input[name="mode"][value="until"]')
    page.fill('form.exempt input[name="until"]', exempt_until.isoformat())
    page.fill('form.exempt input[name="reason"]', "splátkový kalendář")
    page.click('form.exempt button[type="submit"]')
    page.wait_for_url(re.compile(rf"/console/enforcement/cases/{warned_id}$"))
    page.wait_for_selector(".flash")
    assert czech_day(exempt_until) in text(page, "dd.exemption")

    # -- the audit trail names admin for every act ----------------------------
    page.click('nav a[href="/console/audit"]')
    page.wait_for_url(re.compile(r"/console/audit"))
    page.fill('input[name="actor"]', "admin")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url(re.compile(r"actor=admin"))
    rows = page.locator("main table tbody tr")
    acts = {(r.locator("td.actor").inner_text(), r.locator("td").nth(2).inner_text())
            for r in rows.all()}
    actors = {actor for actor, _ in acts}
    actions = {action for _, action in acts}
    assert actors == {"operator:admin"}, actors
    assert {"operator.login", "customer.created", "service.added",
            "invoice.issued", "payment.cash", "payment.assigned",
            "enforcement.exempt"} <= actions, sorted(actions)

    assert live.csp_violations() == [], live.messages

    # what the pages said is what the database holds
    with sessions() as s:
        customer = s.scalar(select(Customer).where(Customer.customer_number == number))
        assert customer.name == "Alena Nováčková"
        service = s.scalar(select(Service).where(Service.customer_id == customer.id))
        assert (service.pppoe_username, service.pppoe_password) == (
            "novackova-alena", "Zelena-Louka-2026")
        invoice = s.scalar(select(Invoice).where(Invoice.number == invoice_number))
        assert invoice.customer_id == customer.id and str(invoice.total) == "1234.50"
        receipt = s.scalar(select(CashReceipt).where(CashReceipt.number == receipt_number))
        assert receipt is not None and receipt.customer_number == number
        tx = s.get(BankTransaction, tx_id)
        assert tx.status != "unmatched"
        assert s.get(Customer, warned_id).enforcement_exempt_until == exempt_until

"""The zone on a phone, in a real headless Chromium (issue 16).

The demo ISP (billing + enforcement + VoIP parts, as ``ispzone demo`` loads it) is served by
werkzeug in a thread with CSRF on; Chromium (Debian's /usr/bin/chromium, Playwright) opens it.

- every page of demo customers 1001-1004, ``/pay``, ``/warning`` and the VoIP zone at 360,
  390 and 1280 px: ``document.documentElement.scrollWidth <= innerWidth`` (no sideways
  scrolling);
- axe-core (axe-playwright-python) over the same pages at 390 and 1280 px, in Czech and
  English: no serious or critical violation;
- the phone story: 1002 at 390 px sees what is due, taps "Zaplatit", sees one QR Platba and
  the provider's phone; the QR (decoded by zbarimg from a screenshot) is the total due with
  the customer's variable symbol, and paying exactly that by a GPC statement leaves nothing
  due;
- 1004 (disconnected) sees "pozastaveno" wherever its internet service's state is shown.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

WIDTHS = (360, 390, 1280)
AXE_WIDTHS = (390, 1280)
PASSWORDS = {"1001": "demo1001", "1002": "demo1002", "1003": "demo1003", "1004": "demo1004"}


def _demo(live_browser):
    """The demo ISP with all its parts (billing, enforcement, VoIP), served by the
    ``live_browser`` fixture (tests/conftest.py): the LiveBrowser."""
    from billing import demo
    from billing.invoicing.supplier import Supplier

    live = live_browser()
    app = live.app
    with app.app_context():
        with live.sessions() as s:
            supplier = Supplier.from_config(app.config)
            demo.load(s, supplier)
            for hook in app.extensions.get("ispzone.demo_hooks", []):
                hook(s, supplier, app.config)
            s.commit()
    return live


def _login(page, base: str, number: str) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="customer_number"]', number)
    page.fill('input[name="password"]', PASSWORDS[number])
    page.click('main form button[type="submit"]')
    page.wait_for_url(re.compile(r"/(info|warning)$"))


def _set_language(page, lang: str) -> None:
    page.click(f'header form.lang button[value="{lang}"]')
    page.wait_for_load_state()


def _links(page, selector: str, limit: int) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    seen: list[str] = []
    for href in hrefs:
        if href and href not in seen:
            seen.append(href)
    return seen[:limit]


def _zone_pages(page, base: str) -> list[str]:
    """Every page of the logged-in customer's zone (details: a few of each kind)."""
    year_ago = (__import__("datetime").date.today() - timedelta(days=365)).isoformat()
    pages = ["/info", "/info/edit", "/services", "/invoices", "/payments", "/traffic",
             f"/traffic?from={year_ago}", "/pay", "/password", "/warning"]
    page.goto(f"{base}/services")
    pages += _links(page, 'main a[href^="/services/"]', 4)
    page.goto(f"{base}/invoices")
    pages += _links(page, 'main a[href^="/invoices/"]:not([href$=".pdf"])', 3)
    return pages


def _voip_pages() -> list[str]:
    return ["/voip/", "/voip/tariff", "/voip/tariff?number=%2B49301234567",
            "/voip/tariff?number=112", "/voip/topup", "/voip/topup/confirm?amount=100"]


def _overflow(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def _serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.browser
def test_no_sideways_scrolling_and_no_serious_axe_violation(need, live_browser,
                                                            cheap_demo_passwords):
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        axe_playwright_python = None
    need(axe_playwright_python is not None, "axe-playwright-python is not installed")
    too_wide: list[str] = []
    violations: list[str] = []
    checked = 0
    live = _demo(live_browser)
    base, browser = live.base, live.browser
    for number in ("1001", "1002", "1003", "1004", "voip"):
        context = browser.new_context(viewport={"width": 390, "height": 800})
        page = context.new_page()
        page.set_default_timeout(30_000)
        _login(page, base, "1001" if number == "voip" else number)
        urls = _voip_pages() if number == "voip" else _zone_pages(page, base)
        for lang in ("cs", "en"):
            page.goto(f"{base}/info")
            _set_language(page, lang)
            for url in urls:
                for width in WIDTHS:
                    if lang == "en" and width not in AXE_WIDTHS:
                        continue  # the layout check runs in Czech (the longer words)
                    page.set_viewport_size({"width": width, "height": 800})
                    page.goto(f"{base}{url}")
                    checked += 1
                    scroll, inner = _overflow(page)
                    if scroll > inner:
                        too_wide.append(f"{number} {lang} {url} @{width}: {scroll} > {inner}")
                    if width in AXE_WIDTHS:
                        violations += [f"{number} {lang} {url} @{width}: {v}"
                                       for v in _serious(page)]
        context.close()
    # the VoIP login page with its public price lookup, logged out
    context = browser.new_context()
    page = context.new_page()
    for lang in ("cs", "en"):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(f"{base}/voip/login")
            if lang == "en":
                _set_language(page, "en")
            scroll, inner = _overflow(page)
            if scroll > inner:
                too_wide.append(f"voip login {lang} @{width}: {scroll} > {inner}")
            if width in AXE_WIDTHS:
                violations += [f"voip login {lang} @{width}: {v}" for v in _serious(page)]
    context.close()
    assert checked > 150
    assert too_wide == []
    assert violations == []


@pytest.mark.browser
def test_phone_story_pay_everything_with_one_qr(need, live_browser, cheap_demo_passwords,
                                                tmp_path):
    """1002 on a 390 px phone: what is due, Zaplatit, one QR, the provider's phone; the QR
    pays everything."""
    need(shutil.which("zbarimg") is not None, "zbarimg is not installed (apt-get install zbar-tools)")
    from billing.bank.importing import import_statement
    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc
    from billing.documents.qrplatba import parse_spayd
    from billing.ledger.balances import account_summary
    from billing.models import Customer
    from core.clock import today

    live = _demo(live_browser)
    base, app, browser = live.base, live.app, live.browser
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _login(page, base, "1002")
    page.goto(f"{base}/info")
    due = Decimal(page.get_attribute("[data-due-total]", "data-due-total"))
    assert due > 0
    assert page.locator("[data-due-total]").is_visible()
    pay = page.locator("main a.button.pay").first
    assert pay.is_visible()
    pay.tap()
    page.wait_for_url(re.compile(r"/pay$"))
    assert page.locator("main figure.qr svg").count() == 1  # one QR for everything
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    phone = page.locator("footer [data-support-phone]")
    assert phone.count() == 1 and phone.inner_text().strip() == app.config["SUPPORT_PHONE"]
    assert phone.get_attribute("href").startswith("tel:+420")
    shot = tmp_path / "qr.png"
    page.locator("main figure.qr svg").screenshot(path=str(shot))
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(shot)], capture_output=True,
                             text=True, check=True).stdout.strip()
    spayd = parse_spayd(decoded)
    assert Decimal(spayd["AM"]) == due
    assert "X-SS" not in spayd  # pairing by VS pays the oldest first
    vs = spayd["X-VS"]
    with app.app_context():
        sessions = app.extensions["ispzone.sessions"]
        with sessions() as s:
            customer = s.scalar(select(Customer).where(Customer.customer_number == "1002"))
            assert vs in {customer.customer_number, *(c.number for c in customer.contracts)}
            assert account_summary(s, customer.id, today()).open_total == due
            # paying exactly that by a statement leaves nothing due
            tx = ParsedTransaction(
                bank_tx_id="7700001", booked_on=today(), amount=Decimal(spayd["AM"]),
                currency="CZK", variable_symbol=vs, specific_symbol=None,
                constant_symbol=None, counter_account="123456789/0800",
                counter_name="Zákazník", message="platba", line=0,
            )
            data = render_gpc(ParsedStatement("gpc", "2001234588/2010", [tx]))
            import_statement(s, data, "vypis.gpc", "gpc", bank_code="2010")
            s.commit()
            summary = account_summary(s, customer.id, today())
            assert summary.open_total == 0 and summary.overdue_total == 0
    page.reload()
    assert page.locator("main figure.qr").count() == 0
    assert page.locator("[data-pay-total]").count() == 0
    context.close()


@pytest.mark.browser
def test_a_disconnected_customer_sees_suspended_everywhere(live_browser, cheap_demo_passwords):
    live = _demo(live_browser)
    base, browser = live.base, live.browser
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _login(page, base, "1004")
    page.goto(f"{base}/services")
    states = page.locator("main [data-service-state]")
    assert states.count() >= 1
    assert set(states.all_inner_texts()) == {"pozastaveno"}
    assert page.locator("main .badge.active").count() == 0
    detail = _links(page, 'main a[href^="/services/"]', 1)[0]
    page.goto(f"{base}{detail}")
    assert page.inner_text("main [data-service-state]") == "pozastaveno"
    for url in ("/info", "/invoices", "/services"):
        page.goto(f"{base}{url}")
        banner = page.locator("main .enforcement-banner")
        assert banner.get_attribute("data-urgency") == "3"
        assert "pozastaveno" in banner.inner_text()
    page.goto(f"{base}/warning")
    assert "pozastaveno" in page.inner_text("main h1")
    assert "Už jste zaplatili?" in page.inner_text("main")
    context.close()

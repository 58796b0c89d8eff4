"""EUR tax documents state their VAT in CZK at the ČNB rate of the DUZP (billing/rates.py):
``ispzone rates import`` (ČNB's denni_kurz.txt; a bad line refused with its number, nothing
stored; ``--fetch`` from a URL), a EUR tax document refused without the rate, the receipt of
a EUR top-up waiting for it, and "DPH v CZK: … Kč (kurz ČNB … ze dne …)" in the PDF and on
the page."""

from __future__ import annotations

import http.server
import io
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from billing import rates
from billing.bank.importing import import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.credit import CreditSettings, credit_balance, open_account
from billing.credit.topups import receipts_and_credit
from billing.documents.pdf import render_invoice_pdf
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import render_receipt_pdf
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent, ExchangeRate, Invoice, TaxReceipt

D = Decimal
NBSP = "\u00a0"


def cnb_file(day: date, eur="25,285", series=236, extra="") -> str:
    return (f"{day:%d.%m.%Y} #{series}\n"
            "země|měna|množství|kód|kurz\n"
            "Austrálie|dolar|1|AUD|15,123\n"
            f"EMU|euro|1|EUR|{eur}\n"
            "Japonsko|jen|100|JPY|15,432\n" + extra)


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_a_cnb_file_is_stored_once_and_never_changed(session):
    day = date(2026, 12, 4)  # a Friday
    report = rates.import_rates(session, cnb_file(day), source="denni_kurz.txt", actor="t")
    assert (report.stored, report.unchanged) == (3, 0)
    jpy = session.scalars(select(ExchangeRate).where(ExchangeRate.currency == "JPY")).one()
    assert (jpy.amount, jpy.rate, jpy.day) == (100, D("15.4320"), day)
    again = rates.import_rates(session, cnb_file(day), source="denni_kurz.txt", actor="t")
    assert (again.stored, again.unchanged) == (0, 3)
    with pytest.raises(rates.RateFileError, match="EUR of 2026-12-04 is stored already"):
        rates.import_rates(session, cnb_file(day, eur="25,300"), source="x", actor="t")
    # the rate of the DUZP, or the last one before it (a weekend has none)
    assert rates.rate_for(session, "EUR", date(2026, 12, 6)).rate == D("25.2850")
    assert rates.rate_for(session, "EUR", date(2026, 12, 3)) is None
    assert rates.rate_for(session, "EUR", day + timedelta(days=rates.MAX_AGE_DAYS + 1)) is None
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "rates.imported")) == 1


@pytest.mark.parametrize("text,message", [
    ("", "line 1: the file is empty"),
    ("7.12.2026\nzemě|měna|množství|kód|kurz\nEMU|euro|1|EUR|25,285\n", "line 1: '7.12.2026' is not the date"),
    ("31.02.2026 #1\nzemě|měna|množství|kód|kurz\nEMU|euro|1|EUR|25,285\n", "line 1: 31.02.2026 is not a date"),
    ("07.12.2026 #236\nzeme;mena\nEMU|euro|1|EUR|25,285\n", "line 2: expected the header"),
    (cnb_file(date(2026, 12, 7), eur="25.285"), "line 4: the rate '25.285' is not a number with a decimal comma"),
    (cnb_file(date(2026, 12, 7), extra="Kanada|dolar|1|CAD\n"), "line 6: 4 fields, expected 5"),
    (cnb_file(date(2026, 12, 7), extra="Kanada|dolar|jeden|CAD|16,1\n"), "line 6: the amount 'jeden'"),
    (cnb_file(date(2026, 12, 7), extra="Kanada|dolar|1|cad|16,1\n"), "line 6: the code 'cad'"),
    (cnb_file(date(2026, 12, 7), extra="EMU|euro|1|EUR|25,285\n"), "line 6: EUR is already on line 4"),
    ("07.12.2026 #236\nzemě|měna|množství|kód|kurz\n", "no rates"),
])
def test_a_bad_line_is_refused_with_its_number_and_nothing_is_stored(session, text, message):
    with pytest.raises(rates.RateFileError, match=message):
        rates.import_rates(session, text, source="bad.txt", actor="t")
    assert session.scalar(select(func.count()).select_from(ExchangeRate)) == 0


def test_the_cli_imports_a_file_and_refuses_a_bad_one(app, session, tmp_path):
    good = tmp_path / "denni_kurz.txt"
    good.write_text(cnb_file(date(2026, 12, 7)), encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rates", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "ČNB rates of 2026-12-07: 3 stored" in result.output
    bad = tmp_path / "bad.txt"
    bad.write_text(cnb_file(date(2026, 12, 8), extra="Kanada|dolar|1|CAD|x\n"), encoding="utf-8")
    result = runner.invoke(args=["rates", "import", str(bad)])
    assert result.exit_code == 1 and "line 6: the rate 'x'" in result.output
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ExchangeRate)) == 3
    assert runner.invoke(args=["rates", "import"]).exit_code == 2  # FILE or --fetch


def test_fetch_downloads_the_days_file(app, session):
    body = cnb_file(date(2026, 12, 3), eur="25,301").encode()
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["CNB_RATES_URL"] = f"http://127.0.0.1:{server.server_port}/denni_kurz.txt"
        result = app.test_cli_runner().invoke(args=["rates", "import", "--fetch", "--date", "2026-12-03"])
    finally:
        server.shutdown()
    assert result.exit_code == 0, result.output
    assert asked == ["/denni_kurz.txt?date=03.12.2026"]
    session.rollback()
    assert rates.rate_for(session, "EUR", date(2026, 12, 3)).rate == D("25.3010")


def test_a_eur_tax_document_needs_the_rate_of_its_duzp(session, supplier, make_customer):
    customer = make_customer("9601")
    duzp = date(2026, 12, 7)
    line = [LineInput("Webhosting (EUR)", D(1), D("121.00"), D(21))]
    before = session.scalar(select(func.count()).select_from(Invoice))
    with pytest.raises(rates.RateMissing, match="needs the ČNB rate of 7. 12. 2026"):
        issue_invoice(session, customer, line, supplier,
                      IssueOptions(currency="EUR", issue_date=duzp, taxable_date=duzp))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Invoice)) == before
    # a EUR advance (a payment request, not a tax document) needs none
    issue_invoice(session, customer, line, supplier,
                  IssueOptions(kind="advance", currency="EUR", issue_date=duzp))
    # Friday's rate is the one of the weekend and of Monday morning
    rates.import_rates(session, cnb_file(date(2026, 12, 4)), source="f", actor="t")
    invoice = issue_invoice(session, customer, line, supplier,
                            IssueOptions(currency="EUR", issue_date=duzp, taxable_date=duzp))
    value = rates.czk_vat(session, invoice)
    assert (value.total, value.rate_day) == (D("530.99"), date(2026, 12, 4))  # 21 € × 25,285
    text = pdf_text(render_invoice_pdf(invoice, invoice.total))
    assert "DPH v CZK: 530,99 Kč (kurz ČNB 25,285 CZK/EUR ze dne 4. 12. 2026)" in text.replace(NBSP, " ")


def _eur_payment(session, symbol: str, amount: D, on: date):
    tx = ParsedTransaction(bank_tx_id=f"E{symbol}", booked_on=on, amount=amount, currency="EUR",
                           variable_symbol=symbol, specific_symbol=None, constant_symbol=None,
                           counter_account="123456789/0800", counter_name="Zákazník",
                           message="platba", line=0)
    data = render_gpc(ParsedStatement("gpc", "2001234588/2010", [tx]))
    import_statement(session, data, "eur.gpc", "gpc", bank_code="2010")
    session.commit()


def test_a_eur_top_up_receipt_waits_for_the_rate_and_states_vat_in_czk(
        session, supplier, make_customer, client, auth):
    """A standing order in EUR to the account's permanent VS (the way a EUR credit is topped
    up: billing/bank pairs CZK payments only, billing/credit/topups.pair_credit_symbols
    takes the account's currency)."""
    settings = CreditSettings()
    customer = make_customer("9602")
    account = open_account(session, customer, "EUR", actor="operator:test")
    session.commit()
    paid_on = date.today() - timedelta(days=1)
    _eur_payment(session, account.variable_symbol, D("48.40"), paid_on)
    receipts_and_credit(session, paid_on, actor="t", supplier=supplier, settings=settings)
    session.commit()
    request = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).one()
    assert (request.kind, request.currency, request.total) == ("advance", "EUR", D("48.40"))
    assert session.scalar(select(func.count()).select_from(TaxReceipt)) == 0  # waits
    assert credit_balance(session, customer.id) == D("0.00")

    rates.import_rates(session, cnb_file(paid_on), source="f", actor="t")
    receipts_and_credit(session, paid_on, actor="t", supplier=supplier, settings=settings)
    session.commit()
    receipt = session.scalars(select(TaxReceipt)).one()
    assert (receipt.total_net, receipt.total_vat) == (D("40.00"), D("8.40"))
    assert credit_balance(session, customer.id) == D("40.00")
    day = f"{paid_on.day}. {paid_on.month}. {paid_on.year}"
    expected = f"DPH v CZK: 212,39 Kč (kurz ČNB 25,285 CZK/EUR ze dne {day})"  # 8,40 € × 25,285
    assert expected in pdf_text(render_receipt_pdf(receipt)).replace(NBSP, " ")
    auth.login("9602", "secret-pass")
    page = client.get(f"/invoices/{request.id}").get_data(as_text=True)
    assert expected.replace(" ", NBSP) in page.replace(" ", NBSP)
    # the document's amounts are in its own currency on the web too (the receipt's total
    # 48,40 € and the request's), never labelled Kč
    assert f"48,40{NBSP}€" in page
    assert f"48,40{NBSP}Kč" not in page
    listing = client.get("/invoices").get_data(as_text=True)
    assert f"48,40{NBSP}€" in listing and f"48,40{NBSP}Kč" not in listing

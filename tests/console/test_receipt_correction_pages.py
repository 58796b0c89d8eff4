"""A cash storno on an advance whose tax document for the received payment was issued, from
the console (billing/cash/cancellation.py, billing/invoicing/receipt_corrections.py): the
flash names the corrective tax document, the receipt's page lists it with its PDF (billing
and admin only), the advance's page shows the receipt corrected, the client zone shows it
and serves the PDF to its customer only; a second attempt is refused in Czech and English
with nothing changed. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from sqlalchemy import func, select

from billing.cash.payments import take_cash_payment
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts
from billing.invoicing.vat import LineInput
from billing.models import TaxReceiptCorrection
from core.clock import today


def paid_advance(session, supplier, customer):
    on = today() - timedelta(days=3)
    advance = issue_invoice(
        session, customer,
        [LineInput("Router", D(1), D("1210.00"), vat_rate=D("21")),
         LineInput("Instalace", D(1), D("560.00"), vat_rate=D("12"))],
        supplier, IssueOptions(kind="advance", issue_date=on, due_date=on + timedelta(days=14),
                               prices_include_vat=True))
    done = take_cash_payment(session, customer, "1000", supplier, actor="operator:anna",
                             invoice=advance)
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    return advance, done.receipt, tax


def language(client, lang):
    assert client.post("/language", data={"lang": lang}).status_code in (200, 302)
    return client


def corrections(session):
    session.rollback()
    return session.scalar(select(func.count()).select_from(TaxReceiptCorrection))


def test_the_storno_issues_the_correction_and_the_pages_show_it(
        app, console_client, session, make_customer, supplier):
    customer = make_customer(number="6710", password="secret-pass")
    advance, receipt, tax = paid_advance(session, supplier, customer)
    billing = console_client("billing")
    response = billing.post(f"/console/cash-receipts/{receipt.id}/cancel",
                            data={"reason": "zapsáno omylem"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    session.rollback()
    (correction,) = session.scalars(select(TaxReceiptCorrection))
    assert correction.corrected_by == f"operator:{billing.operator.login}"
    assert (f"Tax document {tax.number} corrected by the corrective tax document "
            f"{correction.number}.") in page
    assert "Corrective tax documents" in page and correction.number in page
    pdf_url = f"/console/receipt-corrections/{correction.id}.pdf"
    assert pdf_url in page
    pdf = billing.get(pdf_url)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert billing.get("/console/receipt-corrections/999999.pdf").status_code == 404
    # the advance's page: the receipt, corrected by which document
    advance_page = billing.get(f"/console/invoices/{advance.id}").get_data(as_text=True)
    assert tax.number in advance_page
    assert f"corrected by {correction.number}" in advance_page
    # support reads the pages but gets no PDF of a tax document
    support = console_client("support")
    assert correction.number in support.get(
        f"/console/cash-receipts/{receipt.id}").get_data(as_text=True)
    assert support.get(pdf_url).status_code == 403

    # the client zone: the advance's receipts, the correction and its PDF
    zone = app.test_client()
    assert zone.post("/login", data={"customer_number": "6710",
                                     "password": "secret-pass"}).status_code == 302
    detail = zone.get(f"/invoices/{advance.id}").get_data(as_text=True)
    assert tax.number in detail and correction.number in detail
    assert f"/receipt-corrections/{correction.id}.pdf" in detail
    mine = zone.get(f"/receipt-corrections/{correction.id}.pdf")
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    other = make_customer(number="6711", password="other-pass")
    session.commit()
    stranger = app.test_client()
    assert stranger.post("/login", data={"customer_number": other.customer_number,
                                         "password": "other-pass"}).status_code == 302
    assert stranger.get(f"/receipt-corrections/{correction.id}.pdf").status_code == 404


def test_a_second_storno_is_refused_in_czech_and_english(console_client, session,
                                                         make_customer, supplier):
    customer = make_customer(number="6712")
    _advance, receipt, _tax = paid_advance(session, supplier, customer)
    billing = console_client("billing")
    assert billing.post(f"/console/cash-receipts/{receipt.id}/cancel",
                        data={"reason": "omyl"}).status_code == 302
    before = corrections(session)
    english = billing.post(f"/console/cash-receipts/{receipt.id}/cancel",
                           data={"reason": "znovu"})
    assert english.status_code == 409
    assert "is already cancelled" in english.get_data(as_text=True)
    czech = language(billing, "cs").post(f"/console/cash-receipts/{receipt.id}/cancel",
                                         data={"reason": "znovu"})
    assert czech.status_code == 409
    assert f"pokladní doklad {receipt.number} je již stornován" in czech.get_data(as_text=True)
    assert corrections(session) == before == 1

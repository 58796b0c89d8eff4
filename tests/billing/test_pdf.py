"""Invoice PDFs: Czech text is really in the file (extractable), totals are formatted the
Czech way, advance invoices say they are not tax documents."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from billing.documents.pdf import format_date, format_money, format_quantity, render_invoice_pdf
from billing.documents.qrplatba import spayd_for_invoice
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput

ISSUED = date(2026, 11, 22)
# A Czech account with a valid mod-11 checksum and its IBAN (the default Supplier's is not).
VALID_BANK = {"account": "2001234561/2010", "iban": "CZ1520100000002001234561"}


@pytest.fixture
def bank_supplier(supplier):
    return dataclasses.replace(supplier, **VALID_BANK)


@pytest.fixture
def customer(make_customer):
    return make_customer(name="Žaneta Řeháková", street="Šafaříkova 7", city="Čáslav")


def goods_lines() -> list[LineInput]:
    """1000.00 at 21 % plus 2 x 117.25 at 12 %: 1 234.50 Kč in total, VAT included."""
    return [
        LineInput("Wi-Fi router (přenesení služby)", Decimal("1"), Decimal("1000.00")),
        LineInput("Příručka „Síť doma“", Decimal("2"), Decimal("117.25"), Decimal("12")),
    ]


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def issue(session, customer, supplier, kind="goods", lines=None, **options):
    options.setdefault("issue_date", ISSUED)
    return issue_invoice(
        session, customer, lines or goods_lines(), supplier, IssueOptions(kind=kind, **options)
    )


def test_goods_invoice_with_two_rates(session, customer, bank_supplier):
    invoice = issue(session, customer, bank_supplier)
    assert invoice.total == Decimal("1234.50")

    pdf = render_invoice_pdf(invoice, invoice.total)
    text = pdf_text(pdf)

    assert pdf.startswith(b"%PDF")
    assert "Faktura – daňový doklad" in text
    assert invoice.number in text
    assert "Žaneta Řeháková" in text
    assert "Šafaříkova 7" in text
    assert "Příkladnet s.r.o." in text
    assert "IČO: 27074358" in text and "DIČ: CZ27074358" in text
    # § 435 of the Civil Code: the register entry on a registered company's documents
    assert "zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345" in " ".join(
        text.split())
    assert "Celkem k úhradě: 1 234,50 Kč" in text
    assert "22. 11. 2026" in text  # datum vystavení and DUZP
    assert "6. 12. 2026" in text  # splatnost: 14 days
    assert "Datum uskut. zdaň. plnění:" in text
    # per-rate recap: 1000.00 * 21/121 = 173.553.. -> 173.55; 234.50 * 12/112 = 25.125 -> 25.13
    assert "21 %" in text and "12 %" in text
    assert "826,45 Kč" in text and "173,55 Kč" in text
    assert "209,37 Kč" in text and "25,13 Kč" in text
    # unit price without VAT: 117.25 * 100/112 = 104.6875 -> 104.69
    assert "104,69 Kč" in text
    assert invoice.variable_symbol in text and invoice.specific_symbol in text
    assert "CZ15 2010 0000 0020 0123 4561" in text
    assert "QR Platba" in text


def test_pdf_metadata_and_embedded_fonts(session, customer, bank_supplier):
    invoice = issue(session, customer, bank_supplier, kind="regular")
    pdf = render_invoice_pdf(invoice, invoice.total)
    meta = PdfReader(BytesIO(pdf)).metadata
    assert meta.title == f"Faktura – daňový doklad č. {invoice.number}"
    assert meta.author == "Příkladnet s.r.o."
    assert b"DejaVuSans" in pdf


def test_advance_invoice_is_not_a_tax_document(session, customer, bank_supplier):
    lines = [LineInput("Záloha na roční připojení", Decimal("1"), Decimal("5400.00"))]
    invoice = issue(session, customer, bank_supplier, kind="advance", lines=lines)
    text = pdf_text(render_invoice_pdf(invoice, invoice.total))
    assert "Zálohová faktura – výzva k platbě (není daňovým dokladem)" in text
    assert "není daňovým dokladem" in text
    assert "zdaň. plnění" not in text  # no DUZP on an advance invoice
    assert "Celkem k úhradě: 5 400,00 Kč" in text


def test_credit_note_refers_to_the_corrected_invoice(session, customer, bank_supplier):
    original = issue(session, customer, bank_supplier, kind="regular")
    lines = [LineInput("Oprava ceny routeru", Decimal("1"), Decimal("-100.00"))]
    note = issue(session, customer, bank_supplier, "credit_note", lines, corrects=original)
    text = pdf_text(render_invoice_pdf(note, Decimal("0.00")))
    assert "Opravný daňový doklad (dobropis)" in text
    assert "Opravuje doklad č.:" in text and original.number in text
    assert "-100,00 Kč" in text
    assert "QR Platba" not in text


def test_no_qr_when_paid_or_without_iban(session, customer, bank_supplier):
    invoice = issue(session, customer, bank_supplier)
    paid = pdf_text(render_invoice_pdf(invoice, Decimal("0.00")))
    assert "QR Platba" not in paid
    assert "Uhrazeno" in paid

    no_iban = issue(session, customer, dataclasses.replace(bank_supplier, iban=None))
    assert "QR Platba" not in pdf_text(render_invoice_pdf(no_iban, no_iban.total))


def test_partly_paid_invoice_shows_the_rest(session, customer, bank_supplier):
    invoice = issue(session, customer, bank_supplier)
    text = pdf_text(render_invoice_pdf(invoice, Decimal("234.50")))
    assert "Zbývá uhradit: 234,50 Kč" in text
    assert "QR Platba" in text


def test_invalid_supplier_iban_costs_the_qr_not_the_invoice(session, customer, supplier, caplog):
    broken = dataclasses.replace(supplier, iban="CZ0020100000002001234561")  # bad checksum
    invoice = issue(session, customer, broken)
    text = pdf_text(render_invoice_pdf(invoice, invoice.total))
    assert "Žaneta Řeháková" in text
    assert "QR Platba" not in text
    assert "no QR Platba" in caplog.text


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1234.5", "1 234,50 Kč"),
        ("0", "0,00 Kč"),
        ("999.999", "1 000,00 Kč"),
        ("-1234567.8", "-1 234 567,80 Kč"),
    ],
)
def test_format_money(amount, expected):
    assert format_money(Decimal(amount)) == expected.replace(" ", "\u00a0")


def test_format_date_and_quantity():
    assert format_date(date(2026, 11, 22)) == "22.\u00a011.\u00a02026"
    assert format_quantity(Decimal("1.000")) == "1"
    assert format_quantity(Decimal("10.000")) == "10"
    assert format_quantity(Decimal("2.500")) == "2,5"


def test_company_customer_ids_and_long_invoice_spans_pages(session, make_customer, bank_supplier):
    company = make_customer(
        name="Řemesla Čížek s.r.o.", is_company=True, ico="25596641", dic="CZ25596641"
    )
    lines = [
        LineInput(f"Hovorné – číslo {i:03d} (odchozí hovory)", Decimal("1"), Decimal("10.00"))
        for i in range(70)
    ]
    invoice = issue(session, company, bank_supplier, kind="voip_topup", lines=lines)
    pdf = render_invoice_pdf(invoice, invoice.total)
    assert len(PdfReader(BytesIO(pdf)).pages) >= 2
    text = pdf_text(pdf)
    assert "IČO: 25596641" in text and "DIČ: CZ25596641" in text
    assert "Hovorné – číslo 069" in text  # the last line, on the last page
    assert "Celkem k úhradě: 700,00 Kč" in text
    assert "strana 2" in text


def test_qr_in_the_pdf_decodes_to_the_spayd(need, session, customer, bank_supplier, tmp_path):
    """Needs poppler's pdftoppm and zbarimg (apt: poppler-utils, zbar-tools; .ci/run installs them)."""
    need(
        bool(shutil.which("pdftoppm") and shutil.which("zbarimg")),
        "pdftoppm or zbarimg is not installed (apt-get install poppler-utils zbar-tools)",
    )
    invoice = issue(session, customer, bank_supplier)
    (tmp_path / "invoice.pdf").write_bytes(render_invoice_pdf(invoice, invoice.total))
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", "invoice.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "page.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert decoded == spayd_for_invoice(invoice, invoice.total)


def test_the_register_entry_is_the_one_of_the_day_of_issue(session, customer, supplier):
    """Invoices keep what they printed: a later SUPPLIER_REGISTER does not change an issued
    one, and one issued before the entry was kept prints none (rather than today's)."""
    moved = dataclasses.replace(supplier, register="zapsaná v OR vedeném Krajským soudem v Brně, "
                                                   "oddíl C, vložka 999")
    first = issue(session, customer, supplier)
    second = issue(session, customer, moved)
    assert first.supplier_register != second.supplier_register
    assert "vložka 12345" in " ".join(pdf_text(render_invoice_pdf(first, first.total)).split())
    assert "vložka 999" in " ".join(pdf_text(render_invoice_pdf(second, second.total)).split())
    first.supplier_register = None  # as on the invoices issued before migration 0007
    assert "oddíl C" not in pdf_text(render_invoice_pdf(first, first.total))
    with pytest.raises(ValueError, match="SUPPLIER_REGISTER"):
        dataclasses.replace(supplier, register="x" * 301)

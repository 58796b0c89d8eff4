"""The cash receipt PDF (příjmový pokladní doklad), in the invoices' style
(billing/documents/pdf_kit.py): who received the cash (the supplier) and from whom (the
customer), the number and date, the amount, what it paid, who took it, and room for the
signatures. It is not a tax document: the invoices it pays are (docs/facts/cash-payments.md).
Everything printed comes from the receipt's own row (billing/models/cash.py)."""

from __future__ import annotations

from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Spacer, Table, TableStyle

from billing.documents.pdf_kit import FONT, FONT_BOLD, ensure_fonts, format_date, format_money
from billing.documents.pdf_kit import para as _p
from billing.models import CashReceipt

TITLE = "Příjmový pokladní doklad"


def _party(heading: str, lines: list[str]) -> list:
    return [_p(heading.upper(), "heading"), *(_p(line) for line in lines if line)]


def render_cash_receipt_pdf(receipt: CashReceipt) -> bytes:
    ensure_fonts()
    buffer = BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
        bottomMargin=16 * mm, title=f"{TITLE} č. {receipt.number}", author=receipt.supplier_name,
        subject=f"{receipt.customer_name}, {format_money(receipt.amount, receipt.currency)}",
        creator="ispzone", lang="cs-CZ",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate("receipt", frames=[frame])])
    width = doc.width
    recipient = _party("Příjemce", [
        receipt.supplier_name, *[p.strip() for p in receipt.supplier_address.split(",", 1)],
        f"IČO: {receipt.supplier_ico}" if receipt.supplier_ico else "",
        f"DIČ: {receipt.supplier_dic}" if receipt.supplier_dic else "",
    ])
    payer = _party("Přijato od", [
        receipt.customer_name, *[p.strip() for p in receipt.customer_address.split(",", 1)],
        f"Zákaznické číslo: {receipt.customer_number}",
    ])
    parties = Table([[recipient, payer]], colWidths=[width / 2, width / 2])
    parties.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (1, 0), (1, 0), 0.6, colors.grey),
        ("LEFTPADDING", (0, 0), (0, 0), 0), ("LEFTPADDING", (1, 0), (1, 0), 8),
        ("TOPPADDING", (1, 0), (1, 0), 6), ("BOTTOMPADDING", (1, 0), (1, 0), 8),
    ]))
    rows = [
        ["Číslo dokladu:", receipt.number],
        ["Datum přijetí:", format_date(receipt.received_on)],
        ["Částka:", format_money(receipt.amount, receipt.currency)],
        ["Forma úhrady:", "v hotovosti"],
        ["Účel platby:", _p(receipt.purpose or "kredit na další platby")],
        ["Přijal:", receipt.received_by.removeprefix("operator:")],
    ]
    if receipt.note:
        rows.append(["Poznámka:", _p(receipt.note)])
    details = Table(rows, colWidths=[40 * mm, width - 40 * mm])
    details.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5), ("FONT", (1, 0), (1, -1), FONT_BOLD, 9.5),
        ("FONT", (1, 2), (1, 2), FONT_BOLD, 13), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (0, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
    ]))
    signatures = Table([["Podpis příjemce (pokladníka)", "Podpis plátce"]],
                       colWidths=[width / 2, width / 2], rowHeights=[22 * mm])
    signatures.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LINEABOVE", (0, 0), (0, 0), 0.5, colors.grey),
        ("LINEABOVE", (1, 0), (1, 0), 0.5, colors.grey), ("LEFTPADDING", (0, 0), (0, 0), 0),
    ]))
    story = [
        _p(f"{TITLE} č. {receipt.number}", "title"), Spacer(0, 4 * mm), parties,
        Spacer(0, 6 * mm), details, Spacer(0, 4 * mm),
        _p("Doklad o přijetí hotovosti; není daňovým dokladem (daňovými doklady jsou "
           "uhrazené faktury)."),
        Spacer(0, 16 * mm), signatures,
    ]
    doc.build(story)
    return buffer.getvalue()


__all__ = ["render_cash_receipt_pdf"]

"""The cash receipt PDF (příjmový pokladní doklad), in the invoices' style
(billing/documents/pdf_kit.py): who received the cash (the supplier) and from whom (the
customer), the number and date, the amount, what it paid, who took it, and room for the
signatures. It is not a tax document: the invoices it pays are (docs/facts/cash-payments.md).
Everything printed comes from the receipt's own row (billing/models/cash.py).

:func:`render_cash_cancellation_pdf` prints the document that cancels a receipt (storno
příjmového pokladního dokladu, billing/cash/cancellation.py) in the same layout: its own
number, the receipt it cancels, the amount negated, the reason, what is owed again and who
cancelled it; the parties are the receipt's."""

from __future__ import annotations

from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Spacer, Table, TableStyle

from billing.documents.pdf_kit import FONT, FONT_BOLD, ensure_fonts, format_date, format_money
from billing.documents.pdf_kit import para as _p
from billing.models import CashReceipt, CashReceiptCancellation

TITLE = "Příjmový pokladní doklad"
CANCELLATION_TITLE = "Storno příjmového pokladního dokladu"


def _party(heading: str, lines: list[str]) -> list:
    return [_p(heading.upper(), "heading"), *(_p(line) for line in lines if line)]


def _document(buffer: BytesIO, title: str, receipt: CashReceipt, amount) -> BaseDocTemplate:
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
        bottomMargin=16 * mm, title=title, author=receipt.supplier_name,
        subject=f"{receipt.customer_name}, {format_money(amount, receipt.currency)}",
        creator="ispzone", lang="cs-CZ",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate("receipt", frames=[frame])])
    return doc


def _parties(receipt: CashReceipt, width: float) -> Table:
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
    return parties


def _details(rows: list, width: float) -> Table:
    details = Table(rows, colWidths=[40 * mm, width - 40 * mm])
    details.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9.5), ("FONT", (1, 0), (1, -1), FONT_BOLD, 9.5),
        ("FONT", (1, 2), (1, 2), FONT_BOLD, 13), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (0, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
    ]))
    return details


def _signatures(width: float, left: str, right: str) -> Table:
    signatures = Table([[left, right]], colWidths=[width / 2, width / 2], rowHeights=[22 * mm])
    signatures.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LINEABOVE", (0, 0), (0, 0), 0.5, colors.grey),
        ("LINEABOVE", (1, 0), (1, 0), 0.5, colors.grey), ("LEFTPADDING", (0, 0), (0, 0), 0),
    ]))
    return signatures


def render_cash_receipt_pdf(receipt: CashReceipt) -> bytes:
    ensure_fonts()
    buffer = BytesIO()
    doc = _document(buffer, f"{TITLE} č. {receipt.number}", receipt, receipt.amount)
    width = doc.width
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
    story = [
        _p(f"{TITLE} č. {receipt.number}", "title"), Spacer(0, 4 * mm),
        _parties(receipt, width), Spacer(0, 6 * mm), _details(rows, width), Spacer(0, 4 * mm),
        _p("Doklad o přijetí hotovosti; není daňovým dokladem (daňovými doklady jsou "
           "uhrazené faktury)."),
        Spacer(0, 16 * mm),
        _signatures(width, "Podpis příjemce (pokladníka)", "Podpis plátce"),
    ]
    doc.build(story)
    return buffer.getvalue()


def render_cash_cancellation_pdf(receipt: CashReceipt,
                                 cancellation: CashReceiptCancellation) -> bytes:
    """The cancelling document of ``receipt`` (its storno), from both rows as stored."""
    ensure_fonts()
    buffer = BytesIO()
    title = f"{CANCELLATION_TITLE} č. {cancellation.number}"
    doc = _document(buffer, title, receipt, -cancellation.amount)
    width = doc.width
    rows = [
        ["Číslo dokladu:", cancellation.number],
        ["Datum storna:", format_date(cancellation.cancelled_on)],
        ["Částka:", format_money(-cancellation.amount, cancellation.currency)],
        ["Ruší doklad:", f"{TITLE} č. {receipt.number} ze dne "
                         f"{format_date(receipt.received_on)} na "
                         f"{format_money(receipt.amount, receipt.currency)}"],
        ["Důvod storna:", _p(cancellation.reason)],
        ["Znovu k úhradě:", _p(cancellation.reopened or "nic (platba zůstala kreditem)")],
        ["Stornoval:", cancellation.cancelled_by.removeprefix("operator:")],
    ]
    story = [
        _p(title, "title"), Spacer(0, 4 * mm), _parties(receipt, width), Spacer(0, 6 * mm),
        _details(rows, width), Spacer(0, 4 * mm),
        _p(f"Doklad ruší {TITLE.lower()} {receipt.number} zaznamenaný omylem; platba v "
           "hotovosti se nepovažuje za přijatou a faktury, které uhradila, jsou znovu "
           "k úhradě. Není daňovým dokladem."),
        Spacer(0, 16 * mm),
        _signatures(width, "Podpis pokladníka", "Podpis schvalujícího"),
    ]
    doc.build(story)
    return buffer.getvalue()


__all__ = ["render_cash_cancellation_pdf", "render_cash_receipt_pdf"]

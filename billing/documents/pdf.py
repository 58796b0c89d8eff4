"""Invoice PDFs in Czech (§ 29 of the VAT act, docs/facts/tax-documents.md), rendered with
reportlab's platypus.

Everything printed comes from the invoice's own snapshot (parties, lines, the per-rate
recap as issued); nothing is recomputed. Fonts, styles, Czech formatting and the QR code are
billing/documents/pdf_kit.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import select
from sqlalchemy.orm import object_session

from billing.documents.pdf_kit import (
    FONT,
    FONT_BOLD,
    NBSP,
    QR_SIZE,
    FastTable,
    QrFlowable,
    compress_pages_fast,
    ensure_fonts,
    format_date,
    format_money,
    format_quantity,
    format_rate,
    seed_subsets,
)
from billing.documents.pdf_kit import para as _p
from billing.documents.qrplatba import QrPlatbaError, spayd_for_invoice
from billing.models import (
    CASH_ACCOUNT,
    Allocation,
    BankTransaction,
    Invoice,
    InvoiceKind,
    InvoiceLine,
)

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")

TITLES = {
    InvoiceKind.REGULAR: "Faktura – daňový doklad",
    InvoiceKind.GOODS: "Faktura – daňový doklad",
    InvoiceKind.VOIP_TOPUP: "Faktura – daňový doklad",
    InvoiceKind.ADVANCE: "Zálohová faktura – výzva k platbě (není daňovým dokladem)",
    InvoiceKind.CREDIT_NOTE: "Opravný daňový doklad (dobropis)",
    "advance_receipt": "Daňový doklad k přijaté platbě",  # billing.invoicing.receipts
    # billing.invoicing.receipt_corrections
    "advance_receipt_correction": "Opravný daňový doklad k daňovému dokladu k přijaté platbě",
}
CORRECTION = "advance_receipt_correction"


# -- the document ----------------------------------------------------------------------------


def render_invoice_pdf(invoice: Invoice, open_amount: Decimal) -> bytes:
    """The printable invoice; with a QR Platba when ``open_amount`` is still due."""
    ensure_fonts()
    buffer = BytesIO()
    title = document_title(invoice)
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=f"{title} č. {invoice.number}",
        author=invoice.supplier_name,
        subject=f"{invoice.customer_name}, {format_money(invoice.total, invoice.currency)}",
        creator="ispzone",
        lang="cs-CZ",
    )
    frame = Frame(
        doc.leftMargin,
        doc.bottomMargin,
        doc.width,
        doc.height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate("invoice", frames=[frame], onPage=_footer(invoice))])
    story: list[Flowable] = [
        _p(f"{title} č. {invoice.number}", "title"),
        Spacer(0, 4 * mm),
        _parties(invoice, doc.width),
        Spacer(0, 4 * mm),
        _dates_and_payment(invoice, doc.width, open_amount),
        Spacer(0, 5 * mm),
        _lines_table(invoice, doc.width),
        Spacer(0, 4 * mm),
        _recap_and_totals(invoice, open_amount, doc.width),
    ]
    if (czk := _czk_vat(invoice)) is not None:  # a foreign-currency tax document (§ 4 odst. 5 ZDPH)
        story += [Spacer(0, 2 * mm), _p(czk)]
    story.extend(_closing(invoice, open_amount, doc.width))
    doc.build(story)
    return buffer.getvalue()


def _czk_vat(invoice) -> str | None:
    """"DPH v CZK: … Kč (kurz ČNB … ze dne …)" of a foreign-currency tax document, read
    through the document's own session (billing/rates.py); None for CZK."""
    if (getattr(invoice, "currency", "CZK") or "CZK") == "CZK":
        return None
    from sqlalchemy.orm import object_session

    from billing import rates

    mapped = getattr(invoice, "receipt", invoice)  # a ReceiptDocument wraps its receipt
    # a corrective document states its CZK VAT at the corrected receipt's rate
    value = rates.czk_vat(object_session(mapped), getattr(invoice, "czk_view", invoice))
    return rates.describe(value) if value is not None else None


def document_title(invoice: Invoice) -> str:
    return TITLES.get(invoice.kind, TITLES[InvoiceKind.REGULAR])


def _parties(invoice: Invoice, width: float) -> Table:
    supplier = _party_block(
        "Dodavatel",
        invoice.supplier_name,
        invoice.supplier_address,
        invoice.supplier_ico,
        invoice.supplier_dic,
    )
    if invoice.supplier_account:
        supplier.append(_p(f"Bankovní účet: {invoice.supplier_account}"))
    if invoice.supplier_register:  # § 435 of the Civil Code
        supplier.append(_p(invoice.supplier_register))
    customer = _party_block(
        "Odběratel",
        invoice.customer_name,
        invoice.customer_address,
        invoice.customer_ico,
        invoice.customer_dic,
    )
    table = FastTable([[supplier, customer]], colWidths=[width / 2, width / 2])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (1, 0), (1, 0), 0.6, colors.grey),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("LEFTPADDING", (1, 0), (1, 0), 8),
                ("TOPPADDING", (1, 0), (1, 0), 6),
                ("BOTTOMPADDING", (1, 0), (1, 0), 8),
            ]
        )
    )
    return table


def _party_block(
    heading: str, name: str, address: str, ico: str | None, dic: str | None
) -> list[Flowable]:
    block: list[Flowable] = [_p(heading.upper(), "heading"), _p(name, "party")]
    block.extend(_p(line.strip()) for line in address.split(",", 1) if line.strip())
    if ico:
        block.append(_p(f"IČO: {ico}"))
    if dic:
        block.append(_p(f"DIČ: {dic}"))
    return block


def _dates_and_payment(invoice: Invoice, width: float, open_amount: Decimal = ZERO) -> Table:
    dates: list[tuple[str, str]] = [("Datum vystavení:", format_date(invoice.issue_date))]
    if invoice.taxable_date:
        dates.append(("Datum uskut. zdaň. plnění:", format_date(invoice.taxable_date)))
    if invoice.due_date:
        dates.append(("Datum splatnosti:", format_date(invoice.due_date)))
    if invoice.kind == CORRECTION:  # § 45: the day of the correction, the corrected receipt
        corrected = invoice.receipt
        dates.append(("Datum uskutečnění opravy:", format_date(invoice.correction.corrected_on)))
        dates.append(("Opravuje doklad č.:", corrected.number))
        dates.append(("Ze dne:", format_date(corrected.issue_date)))
        dates.append(("DUZP opravovaného dokladu:", format_date(corrected.received_on)))
    if invoice.kind in ("advance_receipt", CORRECTION):
        dates.append(("K zálohové faktuře č.:", invoice.advance.number))
    original = _corrected(invoice)
    if original is not None:  # § 45: the corrected document, its dates
        dates.append(("Opravuje doklad č.:", original.number))
        dates.append(("Ze dne:", format_date(original.issue_date)))
        if original.taxable_date and original.taxable_date != original.issue_date:
            dates.append(("DUZP opravovaného dokladu:", format_date(original.taxable_date)))
    reason = getattr(invoice, "correction_reason", None)
    form = _payment_form(invoice, open_amount)
    payment: list[tuple[str, str]] = [("Forma úhrady:", PAYMENT_FORMS[form])]
    if form == "bank" and invoice.supplier_account:
        payment.append(("Bankovní účet:", invoice.supplier_account))
    if form == "bank" and invoice.supplier_iban:
        payment.append(("IBAN:", _group_iban(invoice.supplier_iban)))
    payment.append(("Variabilní symbol:", invoice.variable_symbol))
    payment.append(("Specifický symbol:", invoice.specific_symbol))
    rows = [[*_pair(dates, i), *_pair(payment, i)] for i in range(max(len(dates), len(payment)))]
    if reason:  # § 45: the reason for the correction
        rows.append(["Důvod opravy:", _p(reason), "", ""])
    col = width / 2
    table = FastTable(rows, colWidths=[col * 0.62, col * 0.38, col * 0.38, col * 0.62])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("FONT", (1, 0), (1, -1), FONT_BOLD, 8.5),
                ("FONT", (3, 0), (3, -1), FONT_BOLD, 8.5),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                *([("SPAN", (1, len(rows) - 1), (3, len(rows) - 1))] if reason else []),
            ]
        )
    )
    return table


PAYMENT_FORMS = {"bank": "bankovním převodem", "cash": "hotově", "credit": "z kreditu"}


def _payment_form(invoice: Invoice, open_amount: Decimal = ZERO) -> str:
    """How the document is (or was) paid: a tax document for a received payment (and its
    correction) states the payment's form (billing.invoicing.receipts.payment_form); an
    invoice paid in full from the prepaid credit account (billing.credit.payments) says so,
    or in cash at the till; everything else asks for a bank transfer."""
    form = getattr(invoice, "payment_form", None)
    if form is not None:
        return form
    session = object_session(invoice) if isinstance(invoice, Invoice) else None
    if session is None or invoice.id is None or invoice.total <= 0 or open_amount > 0:
        return "bank"  # something is still to be paid (no query for the monthly run's PDFs)
    with session.no_autoflush:  # rendering reads; it never writes what the caller holds
        rows = session.execute(
            select(Allocation.credit_payment_id.is_not(None), BankTransaction.source_account,
                   Allocation.amount)
            .outerjoin(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
            .where(Allocation.invoice_id == invoice.id)).all()
    if sum((amount for *_, amount in rows), ZERO) != invoice.total:
        return "bank"  # not paid in full (yet): the request's form
    if all(from_credit for from_credit, _source, _amount in rows):
        return "credit"
    if all(source == CASH_ACCOUNT for _credit, source, _amount in rows):
        return "cash"
    return "bank"


def _pair(items: list[tuple[str, str]], index: int) -> tuple[str, str]:
    return items[index] if index < len(items) else ("", "")


def _group_iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _corrected(invoice: Invoice) -> Invoice | None:
    """The document a credit note corrects (§ 45 wants its number printed)."""
    if not getattr(invoice, "corrects_invoice_id", None):
        return None
    session = object_session(invoice)
    if session is None:
        return None
    return session.get(Invoice, invoice.corrects_invoice_id)


LINE_HEADER = [
    "Popis",
    "Množství",
    "Cena za j.\nbez DPH",
    "Sazba\nDPH",
    "Základ\ndaně",
    "DPH",
    "Celkem\ns DPH",
]


def _lines_table(invoice: Invoice, width: float) -> Table:
    rows: list[list] = [LINE_HEADER]
    rows.extend(_line_row(line, invoice.currency) for line in invoice.lines)
    fixed = [18 * mm, 24 * mm, 14 * mm, 25 * mm, 22 * mm, 25 * mm]
    table = FastTable(rows, colWidths=[width - sum(fixed), *fixed], repeatRows=1)
    table.setStyle(_grid_style(len(rows)))
    return table


def _line_row(line: InvoiceLine, currency: str) -> list:
    return [
        _p(line.description),
        f"{format_quantity(line.quantity)}{NBSP}{line.unit}",
        format_money(line.unit_price_net, currency),
        format_rate(line.vat_rate),
        format_money(line.net, currency),
        format_money(line.vat, currency),
        format_money(line.gross, currency),
    ]


def _grid_style(n_rows: int, total_row: bool = False) -> TableStyle:
    commands: list[tuple] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 9.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.grey),
        ("LINEBELOW", (0, 1), (-1, n_rows - 1), 0.25, colors.lightgrey),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if total_row:
        commands.append(("FONT", (0, -1), (-1, -1), FONT_BOLD, 8.5))
        commands.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.grey))
    return TableStyle(commands)


def _recap_and_totals(invoice: Invoice, open_amount: Decimal, width: float) -> Table:
    cur = invoice.currency
    if invoice.kind in (InvoiceKind.CREDIT_NOTE, CORRECTION):  # § 45: the differences, per rate
        rows: list[list] = [["Sazba DPH", "Rozdíl\nzákladu daně", "Rozdíl DPH", "Rozdíl\ncelkem"]]
    else:
        rows = [["Sazba DPH", "Základ daně", "DPH", "Celkem"]]
    for r in invoice.vat_recap:
        rows.append(
            [
                format_rate(r.rate),
                format_money(r.base, cur),
                format_money(r.vat, cur),
                format_money(r.total, cur),
            ]
        )
    rows.append(
        [
            "Součet",
            format_money(invoice.total_net, cur),
            format_money(invoice.total_vat, cur),
            format_money(invoice.total, cur),
        ]
    )
    recap = FastTable(rows, colWidths=[20 * mm, 27 * mm, 24 * mm, 27 * mm])
    recap.setStyle(_grid_style(len(rows), total_row=True))
    totals = _totals_block(invoice, open_amount)
    outer = FastTable([[recap, totals]], colWidths=[100 * mm, width - 100 * mm])
    outer.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("RIGHTPADDING", (-1, 0), (-1, 0), 0),
            ]
        )
    )
    return outer


def _totals_block(invoice: Invoice, open_amount: Decimal) -> list[Flowable]:
    cur = invoice.currency
    paid = (invoice.kind not in (InvoiceKind.CREDIT_NOTE, "advance_receipt", CORRECTION)
            and open_amount <= 0)
    label = {"credit_note": "Celkem", "advance_receipt": "Přijatá platba",
             CORRECTION: "Oprava přijaté platby"}.get(
        invoice.kind, "Celkem" if paid else "Celkem k úhradě"
    )
    if invoice.kind == InvoiceKind.REGULAR and invoice.total < 0:  # a final invoice, advances overpaid
        return [_p(f"Přeplatek záloh: {format_money(invoice.total, cur)}", "total"),
                _p("Přeplatek vrátíme nebo započteme.", "right")]
    if paid:  # nothing to pay: say so first and large, no "k úhradě" (issue 16)
        return [
            _p("UHRAZENO", "paid"),
            _p("Uhrazeno v plné výši, neplaťte.", "right"),
            _p(f"{label}: {format_money(invoice.total, cur)}", "total"),
        ]
    block: list[Flowable] = [_p(f"{label}: {format_money(invoice.total, cur)}", "total")]
    if invoice.kind != InvoiceKind.CREDIT_NOTE and ZERO < open_amount < invoice.total:
        block.append(_p(f"Zbývá uhradit: {format_money(open_amount, cur)}", "total"))
    elif invoice.kind == "advance_receipt" and open_amount <= 0:  # not a correction's
        block.append(_p("Uhrazeno, neplaťte.", "right"))
    return block


def _closing(invoice: Invoice, open_amount: Decimal, width: float) -> Iterable[Flowable]:
    notes: list[Flowable] = []
    if invoice.kind == InvoiceKind.ADVANCE:
        notes.append(
            _p(
                "Zálohová faktura není daňovým dokladem. Daňový doklad k přijaté platbě "
                "vystavíme do 15 dnů ode dne jejího přijetí."
            )
        )
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        notes.append(_p("Částku dobropisu vrátíme nebo započteme s dalšími platbami."))
    if invoice.note and (invoice.kind == CORRECTION  # its note names the operator
                         or not getattr(invoice, "correction_reason", None)):  # else printed above
        notes.append(_p(invoice.note))
    qr = _qr_block(invoice, open_amount)
    if qr is None:
        return [Spacer(0, 5 * mm), *notes]
    side = FastTable([[notes or "", qr]], colWidths=[width - QR_SIZE - 6 * mm, QR_SIZE + 6 * mm])
    side.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("RIGHTPADDING", (-1, 0), (-1, 0), 0),
            ]
        )
    )
    return [Spacer(0, 5 * mm), side]


def _qr_block(invoice: Invoice, open_amount: Decimal) -> list[Flowable] | None:
    """QR Platba for the open amount; a broken bank setting costs the QR, not the invoice."""
    try:
        spayd = spayd_for_invoice(invoice, open_amount)
    except QrPlatbaError as exc:
        log.warning("invoice %s: no QR Platba: %s", invoice.number, exc)
        return None
    if spayd is None:
        return None
    return [QrFlowable(spayd), _p("QR Platba", "caption")]


def _footer(invoice: Invoice) -> Callable[[Canvas, BaseDocTemplate], None]:
    text = f"{invoice.supplier_name} · {document_title(invoice)} č. {invoice.number}"

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        if canvas.getPageNumber() == 1:
            seed_subsets(canvas)  # before anything is drawn: cached font subsets (pdf_kit)
            compress_pages_fast(canvas)
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(doc.leftMargin, 9 * mm, text)
        canvas.drawRightString(
            doc.pagesize[0] - doc.rightMargin, 9 * mm, f"strana {canvas.getPageNumber()}"
        )
        canvas.restoreState()

    return draw

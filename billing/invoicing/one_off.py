"""One-off and goods invoices an operator issues by hand (a technician's visit, a router
sold): lines with quantity, unit price and VAT rate, issued through
:func:`billing.invoicing.issue.issue_invoice` (its number series, VAT per § 37, the ledger
posting and the settlement against the customer's credit). The e-mail with the PDF and its
QR Platba goes after the commit (billing.jobs.send_invoice_emails). Functions flush; the
caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from billing.invoicing.issue import DEFAULT_DUE_DAYS, InvoicingError, IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import RATES, LineInput
from billing.models import Customer, Invoice, InvoiceKind
from core.clock import today
from core.i18n import _l

ONE_OFF_KINDS = (InvoiceKind.REGULAR, InvoiceKind.GOODS)
MAX_DUE_DAYS = 365


@dataclass(frozen=True)
class OneOffLine:
    """One line as the operator typed it (text; parsed and checked by :func:`parse_line`)."""

    description: str
    quantity: str
    unit_price: str
    vat_rate: str = "21"
    unit: str = "ks"


def _decimal(text, what, position: int) -> Decimal:
    if isinstance(text, Decimal):
        return text
    cleaned = str(text).replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvoicingError(_l("line %(line)s: %(what)s %(text)s is not a number",
                                line=position, what=what, text=repr(text))) from None
    if not value.is_finite():
        raise InvoicingError(_l("line %(line)s: %(what)s %(text)s is not a number",
                                line=position, what=what, text=repr(text)))
    return value


def parse_line(line: OneOffLine, position: int) -> LineInput:
    description = (line.description or "").strip()
    if not description:
        raise InvoicingError(_l("line %(line)s: the description is empty", line=position))
    if len(description) > 300:
        raise InvoicingError(_l("line %(line)s: the description is longer than 300 "
                                "characters", line=position))
    quantity = _decimal(line.quantity, _l("the quantity"), position)
    if quantity <= 0 or quantity != quantity.quantize(Decimal("0.001")):
        raise InvoicingError(_l("line %(line)s: the quantity must be positive, with at most "
                                "three decimal places", line=position))
    price = _decimal(line.unit_price, _l("the unit price"), position)
    if price != price.quantize(Decimal("0.01")) or abs(price) >= Decimal("10000000"):
        raise InvoicingError(_l("line %(line)s: the unit price must be in haléře "
                                "(two decimal places) and below 10 000 000", line=position))
    if price == 0:
        raise InvoicingError(_l("line %(line)s: the unit price is zero", line=position))
    rate = _decimal(line.vat_rate, _l("the VAT rate"), position)
    if rate not in RATES:
        raise InvoicingError(_l("line %(line)s: VAT rate %(rate)s %% is not one of %(rates)s",
                                line=position, rate=line.vat_rate,
                                rates=", ".join(f"{r} %" for r in RATES)))
    unit = (line.unit or "ks").strip()[:10] or "ks"
    return LineInput(description, quantity, price, rate, unit)


def issue_one_off(
    session: Session,
    customer: Customer,
    lines: list[OneOffLine | LineInput],
    supplier: Supplier,
    *,
    actor: str,
    kind: str = InvoiceKind.REGULAR,
    prices_include_vat: bool = True,
    due_days: int = DEFAULT_DUE_DAYS,
    taxable_date: date | None = None,
    note: str | None = None,
) -> Invoice:
    """Issue a one-off (``regular``) or goods invoice for ``customer``; refused, writing
    nothing, for no lines, a bad line (with its number), another kind, a due term outside
    0-365 days, a total that is not positive."""
    if kind not in ONE_OFF_KINDS:
        raise InvoicingError(_l("a one-off invoice is regular or goods, not %(kind)s",
                                kind=repr(kind)))
    if not lines:
        raise InvoicingError(_l("an invoice needs at least one line"))
    if not 0 <= int(due_days) <= MAX_DUE_DAYS:
        raise InvoicingError(_l("the due term must be 0 to %(days)s days", days=MAX_DUE_DAYS))
    parsed = [ln if isinstance(ln, LineInput) else parse_line(ln, i)
              for i, ln in enumerate(lines, start=1)]
    issued = today()
    return issue_invoice(
        session, customer, parsed, supplier,
        IssueOptions(
            kind=str(kind), issue_date=issued, taxable_date=taxable_date or issued,
            due_date=issued + timedelta(days=int(due_days)),
            prices_include_vat=prices_include_vat, note=(note or "").strip() or None,
            actor=actor,
        ),
    )


__all__ = ["ONE_OFF_KINDS", "OneOffLine", "issue_one_off", "parse_line"]

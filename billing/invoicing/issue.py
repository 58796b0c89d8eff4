"""Issuing invoices and credit notes. Functions flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bank.pairing import settle
from billing.invoicing.supplier import Supplier, number_format
from billing.invoicing.vat import LineInput, compute_document
from billing.ledger import postings as ledger
from billing.models import (
    Contract,
    Customer,
    DocumentSeries,
    Invoice,
    InvoiceLine,
    InvoiceVatRecap,
)
from core import audit
from core.clock import today
from core.db import money_sum
from core.errors import DomainError

DEFAULT_DUE_DAYS = 14


class InvoicingError(DomainError, ValueError):
    pass


def lock_series(session: Session, key: str) -> DocumentSeries:
    """The number series ``key`` (created at 0 if new), locked until the transaction ends:
    issuers take turns, and the second then sees the numbers the first committed."""
    series = session.scalar(
        select(DocumentSeries).where(DocumentSeries.key == key).with_for_update()
    )
    if series is None:
        series = DocumentSeries(key=key, last_value=0)
        session.add(series)
        session.flush()
    return series


def next_number(session: Session, year: int, fmt: str = "YYYYNNNNNN") -> str:
    """Next invoice number of the year's series in ``fmt`` (Supplier.invoice_number_format;
    by default YYYY + 6 digits), also used as the SS.

    The series row is locked (SELECT ... FOR UPDATE on PostgreSQL), so concurrent issuers
    never share a number. A full series refuses to go on (the operator switches to a
    format with more serial digits; the counter carries on).
    """
    try:
        year_digits, serial_digits = number_format(fmt)
    except ValueError as exc:
        raise InvoicingError(str(exc)) from None
    series = lock_series(session, f"invoice-{year}")
    if series.last_value + 1 >= 10**serial_digits:
        raise InvoicingError(
            f"invoice series {year} is full ({10**serial_digits - 1:,} invoices in format "
            f"{fmt}); set SUPPLIER_INVOICE_NUMBER_FORMAT=YYNNNNNNNN for more"
        )
    series.last_value += 1
    session.flush()
    return f"{year % 10**year_digits:0{year_digits}d}{series.last_value:0{serial_digits}d}"


@dataclass(frozen=True)
class IssueOptions:
    kind: str = "regular"
    issue_date: date | None = None
    taxable_date: date | None = None
    due_date: date | None = None
    prices_include_vat: bool = True
    number: str | None = None  # given for migrated historic invoices
    specific_symbol: str | None = None
    period_key: str | None = None
    note: str | None = None
    corrects: Invoice | None = None
    actor: str = "system"
    # a VoIP coupon: (service id, amount) credited to that line in the invoice's posting
    credit_line: tuple[int, Decimal] | None = None
    currency: str = "CZK"  # a credit account's top-up request may be in EUR (billing/credit/)


def issue_invoice(
    session: Session,
    customer: Customer,
    lines: list[LineInput],
    supplier: Supplier,
    options: IssueOptions = IssueOptions(),
    contract: Contract | None = None,
) -> Invoice:
    """Create an issued invoice with its lines and VAT recap, and post it to the ledger."""
    if not lines:
        raise InvoicingError("an invoice needs at least one line")
    if options.kind not in ("regular", "goods", "voip_topup", "advance", "credit_note"):
        raise InvoicingError(f"unknown invoice kind {options.kind!r}")
    if contract is None:
        contract = customer.contracts[0] if customer.contracts else None
    issued = options.issue_date or today()
    doc = compute_document(lines, options.prices_include_vat)
    if options.kind == "credit_note":
        if doc.total >= 0:
            raise InvoicingError("a credit note must have a negative total")
    elif doc.total <= 0:
        raise InvoicingError("an invoice must have a positive total")

    number = options.number or next_number(
        session, issued.year, supplier.invoice_number_format
    )
    ss = options.specific_symbol or (number if number.isdigit() and len(number) <= 10 else None)
    if ss is None:
        raise InvoicingError(f"invoice {number}: no numeric specific symbol")
    vs = contract.number if contract else customer.customer_number
    invoice = Invoice(
        customer_id=customer.id,
        contract_id=contract.id if contract else None,
        number=number,
        kind=options.kind,
        issue_date=issued,
        taxable_date=None if options.kind == "advance" else (options.taxable_date or issued),
        due_date=options.due_date or issued + timedelta(days=DEFAULT_DUE_DAYS),
        variable_symbol=vs,
        specific_symbol=ss,
        currency=options.currency,
        total_net=doc.total_net,
        total_vat=doc.total_vat,
        total=doc.total,
        corrects_invoice_id=options.corrects.id if options.corrects else None,
        period_key=options.period_key,
        note=options.note,
        supplier_name=supplier.name,
        supplier_address=supplier.address,
        supplier_ico=supplier.ico,
        supplier_dic=supplier.dic,
        supplier_account=supplier.account,
        supplier_iban=supplier.iban,
        supplier_register=supplier.register,
        customer_name=customer.name,
        customer_address=customer.address,
        customer_ico=customer.ico,
        customer_dic=customer.dic,
    )
    for position, cl in enumerate(doc.lines, start=1):
        invoice.lines.append(
            InvoiceLine(
                position=position,
                description=cl.line.description,
                quantity=Decimal(cl.line.quantity),
                unit=cl.line.unit,
                unit_price=Decimal(cl.line.unit_price),
                prices_include_vat=options.prices_include_vat,
                vat_rate=Decimal(cl.line.vat_rate),
                net=cl.net,
                vat=cl.vat,
                gross=cl.gross,
                service_id=cl.line.service_id,
            )
        )
    for split in doc.recap:
        invoice.vat_recap.append(
            InvoiceVatRecap(rate=split.rate, base=split.base, vat=split.vat, total=split.total)
        )
    session.add(invoice)
    session.flush()
    ledger.post_invoice(session, invoice, options.actor, credit_line=options.credit_line)
    directed = {("cn", invoice.id): options.corrects.id} if options.corrects else {}
    settle(session, [customer.id], directed, actor=options.actor)
    audit.record(
        session,
        "invoice.issued",
        actor=options.actor,
        customer_id=customer.id,
        new_value=number,
        details={"kind": options.kind, "total": str(invoice.total)},
    )
    return invoice


def issue_credit_note(
    session: Session,
    invoice: Invoice,
    lines: list[LineInput],
    supplier: Supplier,
    reason: str,
    *,
    issue_date: date | None = None,
    actor: str = "system",
) -> Invoice:
    """A corrective tax document (opravný daňový doklad) for ``invoice``.

    ``lines`` carry negative quantities or prices, with the same VAT entry mode as the
    original. The credit first reduces what is open on the corrected invoice; any rest
    becomes the customer's credit.
    """
    if invoice.kind in ("credit_note", "advance"):
        raise InvoicingError(f"invoice {invoice.number} cannot be corrected by a credit note")
    includes_vat = invoice.lines[0].prices_include_vat if invoice.lines else True
    credited = -session.scalar(
        select(money_sum(Invoice.total)).where(Invoice.corrects_invoice_id == invoice.id)
    )
    if -compute_document(lines, includes_vat).total > invoice.total - credited:
        raise InvoicingError("a credit note cannot exceed what is left of the invoice it corrects")
    customer = session.get(Customer, invoice.customer_id)
    contract = session.get(Contract, invoice.contract_id) if invoice.contract_id else None
    return issue_invoice(
        session,
        customer,
        lines,
        supplier,
        IssueOptions(
            kind="credit_note",
            issue_date=issue_date,
            due_date=issue_date or today(),
            prices_include_vat=includes_vat,
            note=f"Opravný daňový doklad k faktuře {invoice.number}: {reason}",
            corrects=invoice,
            actor=actor,
        ),
        contract=contract,
    )

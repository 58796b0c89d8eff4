"""Issuing invoices and credit notes. Functions flush; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bank.pairing import settle
from billing.invoicing.supplier import Supplier, number_format
from billing.invoicing.vat import LineInput, compute_document, money
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
from core.i18n import _l
from core.i18n import money as shown_money
from core.i18n import number as shown_number

DEFAULT_DUE_DAYS = 14


class InvoicingError(DomainError, ValueError):
    pass


def lock_series(session: Session, key: str) -> DocumentSeries:
    """The number series ``key`` (created at 0 if new), locked until the transaction ends:
    issuers take turns, and the second then sees the numbers the first committed."""
    series = session.scalar(
        select(DocumentSeries).where(DocumentSeries.key == key).with_for_update()
    )
    if series is None:  # the first of the series: two issuers may create it at once
        table = DocumentSeries.__table__
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        session.execute(dialect_insert(table).values(key=key, last_value=0)
                        .on_conflict_do_nothing(index_elements=["key"]))
        series = session.scalar(
            select(DocumentSeries).where(DocumentSeries.key == key).with_for_update()
            .execution_options(populate_existing=True))
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
    # a credit note: its reason (§ 45), and its VAT per rate when it is the difference to
    # what the corrected invoice and its earlier credit notes stated (credit_invoice)
    correction_reason: str | None = None
    vat_by_rate: dict[Decimal, Decimal] | None = None
    currency: str = "CZK"  # a credit account's top-up request may be in EUR (billing/credit/)
    # False: the document's credit is not applied to open invoices here (the caller moves it
    # elsewhere: a prepaid service's unused days go back to the credit, billing/credit/early_end.py)
    settle: bool = True


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
        raise InvoicingError(_l("an invoice needs at least one line"))
    if options.kind not in ("regular", "goods", "voip_topup", "advance", "credit_note"):
        raise InvoicingError(f"unknown invoice kind {options.kind!r}")
    if contract is None:
        contract = customer.contracts[0] if customer.contracts else None
    issued = options.issue_date or today()
    doc = compute_document(lines, options.prices_include_vat)
    if options.vat_by_rate:
        doc = _with_vat(doc, options.vat_by_rate, options.prices_include_vat)
    if options.kind == "credit_note":
        if doc.total >= 0:
            raise InvoicingError("a credit note must have a negative total")
    elif doc.total <= 0:
        raise InvoicingError(_l("an invoice must have a positive total"))
    if options.currency != "CZK" and options.kind != "advance" and options.number is None:
        # a tax document in a foreign currency states its VAT in CZK at the ČNB rate of
        # its DUZP (billing/rates.py): without that rate it is not issued
        from billing.rates import require_rate

        require_rate(session, options.currency, options.taxable_date or issued,
                     f"a tax document ({options.kind})")

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
        correction_reason=options.correction_reason,
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
                corrects_line_id=cl.line.corrects_line_id,
            )
        )
    for split in doc.recap:
        invoice.vat_recap.append(
            InvoiceVatRecap(rate=split.rate, base=split.base, vat=split.vat, total=split.total)
        )
    session.add(invoice)
    session.flush()
    ledger.post_invoice(session, invoice, options.actor, credit_line=options.credit_line)
    if options.settle:
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
    vat_by_rate: dict[Decimal, Decimal] | None = None,
    settle: bool = True,
) -> Invoice:
    """A corrective tax document (opravný daňový doklad) for ``invoice``.

    ``lines`` carry negative quantities or prices, with the same VAT entry mode as the
    original. The credit first reduces what is open on the corrected invoice; any rest
    becomes the customer's credit. :func:`credit_invoice` builds the lines from the
    invoice's own (whole lines, quantities or amounts), checks each line's remainder and
    gives the VAT as the difference (docs/facts/credit-notes.md).
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvoicingError(_l("a credit note needs the reason for the correction"))
    if invoice.kind in ("credit_note", "advance"):
        raise InvoicingError(_l("invoice %(number)s cannot be corrected by a credit note",
                                number=invoice.number))
    includes_vat = invoice.lines[0].prices_include_vat if invoice.lines else True
    credited = -session.scalar(
        select(money_sum(Invoice.total)).where(Invoice.corrects_invoice_id == invoice.id)
    )
    if -compute_document(lines, includes_vat).total > invoice.total - credited:
        raise InvoicingError(_l("a credit note cannot exceed what is left of the invoice it "
                                "corrects"))
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
            correction_reason=reason,
            vat_by_rate=vat_by_rate,
            settle=settle,
            currency=getattr(invoice, "currency", None) or "CZK",
        ),
        contract=contract,
    )


# -- credit notes built from the invoice's lines -------------------------------------------


@dataclass(frozen=True)
class CreditLine:
    """What to credit of one line of the invoice: all that is left of it (neither given),
    ``quantity`` units at the line's unit price, or an ``amount`` as the line's prices are
    entered (with VAT when the invoice's prices include it, else without)."""

    line_id: int
    quantity: Decimal | None = None
    amount: Decimal | None = None


def _entered(line: InvoiceLine) -> Decimal:
    """A line's amount as entered (quantity x unit price): gross or net by its VAT mode."""
    return line.gross if line.prices_include_vat else line.net


def line_remainders(session: Session, invoice: Invoice) -> dict[int, Decimal]:
    """Per line of ``invoice``: its amount as entered less what credit notes have credited
    of it (their lines that name it)."""
    credited = dict(session.execute(
        select(InvoiceLine.corrects_line_id,
               money_sum(InvoiceLine.gross if invoice.lines and invoice.lines[0].prices_include_vat
                         else InvoiceLine.net))
        .where(InvoiceLine.corrects_line_id.in_([ln.id for ln in invoice.lines]))
        .group_by(InvoiceLine.corrects_line_id)
    ).all())
    return {ln.id: _entered(ln) + credited.get(ln.id, Decimal("0.00")) for ln in invoice.lines}


def _difference_vat(session: Session, invoice: Invoice, lines: list[LineInput],
                    includes_vat: bool) -> dict[Decimal, Decimal]:
    """The credit note's VAT per rate as the difference (§ 42): the VAT of what remains of
    the rate after this correction, computed per § 37, less the VAT the invoice and its
    earlier credit notes stated. So the invoice and all its corrections together carry
    exactly the VAT of the corrected amount, to the haléř (a whole invoice credited: zero)."""
    from billing.invoicing.vat import vat_from_gross, vat_from_net

    entered: dict[Decimal, Decimal] = {}
    stated: dict[Decimal, Decimal] = {}
    documents = [invoice, *session.scalars(
        select(Invoice).where(Invoice.corrects_invoice_id == invoice.id))]
    for doc in documents:
        for r in doc.vat_recap:
            rate = Decimal(r.rate)
            entered[rate] = entered.get(rate, Decimal("0.00")) + (r.total if includes_vat else r.base)
            stated[rate] = stated.get(rate, Decimal("0.00")) + r.vat
    this = compute_document(lines, includes_vat)
    result = {}
    for split in this.recap:
        rate = Decimal(split.rate)
        amount = (split.total if includes_vat else split.base)
        left = entered.get(rate, Decimal("0.00")) + amount
        correct = (vat_from_gross if includes_vat else vat_from_net)(left, rate).vat
        result[rate] = correct - stated.get(rate, Decimal("0.00"))
    return result


def _with_vat(doc, vat_by_rate: dict[Decimal, Decimal], includes_vat: bool):
    """``doc`` with the given VAT per rate; the amounts as entered stay, the other side
    (base with VAT included, total without) and the rate's last line take the change."""
    from billing.invoicing.vat import ComputedDocument, ComputedLine, VatSplit

    recap, lines = [], list(doc.lines)
    for split in doc.recap:
        vat = vat_by_rate.get(Decimal(split.rate), split.vat)
        delta = vat - split.vat
        if includes_vat:
            recap.append(VatSplit(split.rate, split.total - vat, vat, split.total))
        else:
            recap.append(VatSplit(split.rate, split.base, vat, split.base + vat))
        if delta:
            index = max(i for i, cl in enumerate(lines)
                        if Decimal(cl.line.vat_rate) == Decimal(split.rate))
            cl = lines[index]
            if includes_vat:
                lines[index] = ComputedLine(cl.line, cl.net - delta, cl.vat + delta, cl.gross)
            else:
                lines[index] = ComputedLine(cl.line, cl.net, cl.vat + delta, cl.gross + delta)
    total_net = sum((s.base for s in recap), Decimal("0.00"))
    total_vat = sum((s.vat for s in recap), Decimal("0.00"))
    return ComputedDocument(lines, recap, total_net, total_vat, total_net + total_vat)


def credit_invoice(
    session: Session,
    invoice: Invoice,
    selections: list[CreditLine],
    supplier: Supplier,
    reason: str,
    *,
    issue_date: date | None = None,
    actor: str = "system",
    settle: bool = True,
) -> Invoice:
    """A credit note for some or all lines of ``invoice`` (whole lines, a number of units,
    or part of a line's amount), with its reason. Refused, writing nothing: a credit note or
    an advance invoice to correct, no lines, a line not of this invoice or given twice, a
    quantity or amount that is not positive, more than what is left of a line after the
    earlier credit notes, no reason."""
    if invoice.kind in ("credit_note", "advance"):
        raise InvoicingError(_l("invoice %(number)s cannot be corrected by a credit note",
                                number=invoice.number))
    if not (reason or "").strip():
        raise InvoicingError(_l("a credit note needs the reason for the correction"))
    if not selections:
        raise InvoicingError(_l("choose at least one line to credit"))
    by_id = {ln.id: ln for ln in invoice.lines}
    left = line_remainders(session, invoice)
    includes_vat = invoice.lines[0].prices_include_vat if invoice.lines else True
    seen: set[int] = set()
    lines: list[LineInput] = []
    for sel in selections:
        line = by_id.get(sel.line_id)
        if line is None:
            raise InvoicingError(_l("line %(line)s is not a line of invoice %(number)s",
                                    line=sel.line_id, number=invoice.number))
        if line.id in seen:
            raise InvoicingError(_l("line %(line)s is given twice", line=line.position))
        seen.add(line.id)
        rest = left[line.id]
        if rest <= 0:
            raise InvoicingError(_l("line %(line)s (%(description)s) is credited in full",
                                    line=line.position, description=line.description))
        if sel.quantity is not None and sel.amount is not None:
            raise InvoicingError(_l("line %(line)s: give a quantity or an amount, not both",
                                    line=line.position))
        if sel.quantity is not None:
            quantity = Decimal(sel.quantity)
            if quantity <= 0:
                raise InvoicingError(_l("line %(line)s: the quantity must be positive",
                                        line=line.position))
            amount = money(quantity * line.unit_price)
            if amount > rest:
                raise InvoicingError(_l(
                    "line %(line)s: %(quantity)s × %(price)s = %(amount)s is more than the "
                    "%(rest)s left of it", line=line.position, quantity=shown_number(quantity),
                    price=shown_money(line.unit_price, invoice.currency),
                    amount=shown_money(amount, invoice.currency),
                    rest=shown_money(rest, invoice.currency)))
            lines.append(LineInput(line.description, -quantity, line.unit_price, line.vat_rate,
                                   line.unit, line.service_id, line.id))
        elif sel.amount is not None:
            amount = Decimal(sel.amount)
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvoicingError(_l(
                    "line %(line)s: the amount must be positive, in haléře at most",
                    line=line.position))
            if amount > rest:
                raise InvoicingError(_l("line %(line)s: %(amount)s is more than the %(rest)s "
                                        "left of it", line=line.position,
                                        amount=shown_money(amount, invoice.currency),
                                        rest=shown_money(rest, invoice.currency)))
            lines.append(LineInput(f"Oprava: {line.description}", Decimal("-1"), amount,
                                   line.vat_rate, "", line.service_id, line.id))
        elif rest == _entered(line):
            lines.append(LineInput(line.description, -line.quantity, line.unit_price,
                                   line.vat_rate, line.unit, line.service_id, line.id))
        else:  # what earlier credit notes left of the line
            lines.append(LineInput(f"Oprava: {line.description} (zbytek)", Decimal("-1"), rest,
                                   line.vat_rate, "", line.service_id, line.id))
    return issue_credit_note(
        session, invoice, lines, supplier, reason, issue_date=issue_date, actor=actor,
        vat_by_rate=_difference_vat(session, invoice, lines, includes_vat), settle=settle,
    )

"""Final invoices that settle advances (vyúčtování záloh; docs/facts/advance-settlement.md).

A supply paid (wholly or in part) by advances is invoiced once it happens: the final invoice
lists the full supply, then deducts each advance's tax document for the received payment
(:class:`billing.models.TaxReceipt`: its number, and its base and VAT per rate). Per rate,
the final document's base and VAT are the supply's minus the deducted receipts', to the
haléř (no VAT is recomputed from a difference). So:

* supply > advances: the invoice's total is what is still to pay (a debt, settled as usual
  by the customer's credit and payments);
* supply < advances: the total is negative, an overpayment: it becomes the customer's credit
  (prepaid credit; the settlement applies it to their next invoices like a credit note's);
* supply = advances: the total is zero and nothing moves but the revenue and VAT.

Only advances whose every payment has its receipt are deducted; a receipt is deducted once
(``advance_deduction.receipt_id`` is UNIQUE). The monthly run settles only fully paid
requests (a partly paid one is still being paid: it waits). A final invoice issued for a
supply that has happened (:func:`issue_final_invoice`) also takes a **partly paid** request:
it deducts exactly the receipts of what was received (per rate, § 28 ZDPH: one receipt per
payment), and the request's unpaid rest is closed by the final invoice (an allocation whose
source is the final invoice, ``allocation.credit_note_id``), so the customer owes the rest
once, on the final invoice (supply minus what was paid), not on the request too.

Ledger (one ``invoice`` transaction, :func:`billing.ledger.postings.post_final_invoice`):
revenue ``-supply net``, output VAT ``-supply VAT``, advances ``+advances paid`` (the advance
requests leave the advances account), and the difference on the customer's receivable
(``+``, to pay) or prepaid credit (``-``, an overpayment).

The monthly run (:func:`billing.invoicing.recurring.issue_month`) calls
:func:`settle_paid_advances`: every fully paid advance not yet deducted is settled by a final
invoice whose supply is the advance's own lines (the demo's and imported advances too).
Functions flush; the caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bank.pairing import settle
from billing.invoicing.issue import DEFAULT_DUE_DAYS, InvoicingError, next_number
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import ComputedLine, LineInput, VatSplit, compute_document
from billing.ledger import postings
from billing.ledger.balances import paid_amounts
from billing.models import (
    AdvanceDeduction,
    Allocation,
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceVatRecap,
    TaxReceipt,
)
from billing.models.credit import CreditTopUp
from core import audit
from core.clock import today
from core.errors import Conflict

ZERO = Decimal("0.00")


class SettlementError(Conflict, ValueError):
    """An advance that cannot be deducted (not the customer's, not fully paid, a receipt
    missing, already deducted); nothing was written."""


@dataclass(frozen=True)
class DeductionLine:
    """One rate of one receipt, as deducted: the amounts are the receipt's, negated."""

    receipt_number: str
    advance_number: str
    rate: Decimal
    base: Decimal
    vat: Decimal
    total: Decimal

    @property
    def description(self) -> str:
        return (f"Odpočet zálohy: daňový doklad {self.receipt_number} "
                f"(zálohová faktura {self.advance_number})")


@dataclass(frozen=True)
class FinalDocument:
    """The final invoice's numbers before it is written: the supply as computed, the
    deductions, and per rate supply minus deductions."""

    supply: list[ComputedLine]
    deductions: list[DeductionLine]
    recap: list[VatSplit]
    total_net: Decimal
    total_vat: Decimal
    total: Decimal
    advances_total: Decimal  # the gross sum of the deducted receipts


def compute_final(supply_lines: Sequence[LineInput], prices_include_vat: bool,
                  receipts: Iterable[TaxReceipt]) -> FinalDocument:
    """Supply minus advances per rate, to the haléř (pure: no session)."""
    supply = compute_document(supply_lines, prices_include_vat)
    by_rate: dict[Decimal, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for split in supply.recap:
        by_rate[Decimal(split.rate)][0] += split.base
        by_rate[Decimal(split.rate)][1] += split.vat
    deductions = []
    for receipt in receipts:
        for row in receipt.vat_recap:
            rate = Decimal(row.rate)  # 21.00 == 21: one key per rate
            deductions.append(DeductionLine(receipt.number, receipt.advance.number, rate,
                                            -row.base, -row.vat, -row.total))
            by_rate[rate][0] -= row.base
            by_rate[rate][1] -= row.vat
    recap = [VatSplit(rate, base, vat, base + vat)
             for rate, (base, vat) in sorted(by_rate.items(), reverse=True)]
    total_net = sum((s.base for s in recap), ZERO)
    total_vat = sum((s.vat for s in recap), ZERO)
    advances_total = -sum((d.total for d in deductions), ZERO)
    return FinalDocument(supply.lines, deductions, recap, total_net, total_vat,
                         total_net + total_vat, advances_total)


def deducted_receipt_ids(session: Session, receipt_ids: Iterable[int]) -> set[int]:
    ids = list(receipt_ids)
    if not ids:
        return set()
    return set(session.scalars(
        select(AdvanceDeduction.receipt_id).where(AdvanceDeduction.receipt_id.in_(ids))))


def settleable_advances(session: Session, customer_ids: Iterable[int] | None = None, *,
                        partly_paid: bool = False) -> list[Invoice]:
    """Advance invoices fully paid, every payment with its receipt, none deducted yet
    (oldest first)."""
    query = (
        select(Invoice)
        .where(Invoice.kind == InvoiceKind.ADVANCE,
               ~Invoice.id.in_(select(AdvanceDeduction.advance_invoice_id)),
               # a credit top-up's request: its payment became credit, and its tax
               # document is the only one (billing/credit/topups.py); no supply to settle
               ~Invoice.id.in_(select(CreditTopUp.invoice_id)))
        .order_by(Invoice.issue_date, Invoice.id)
    )
    if customer_ids is not None:
        query = query.where(Invoice.customer_id.in_(list(customer_ids)))
    advances = list(session.scalars(query))
    return [a for a in advances
            if _refusal(session, a, None, check_deducted=False, partly_paid=partly_paid) is None]


def _receipts(session: Session, advance: Invoice) -> list[TaxReceipt]:
    return list(session.scalars(
        select(TaxReceipt).where(TaxReceipt.advance_invoice_id == advance.id,
                                 ~TaxReceipt.correction.has())  # a corrected one is void
        .order_by(TaxReceipt.id)))


def _refusal(session: Session, advance: Invoice, customer_id: int | None, *,
             check_deducted: bool = True, partly_paid: bool = False) -> str | None:
    if advance.kind != InvoiceKind.ADVANCE:
        return f"{advance.number} is not an advance invoice"
    if customer_id is not None and advance.customer_id != customer_id:
        return f"advance invoice {advance.number} is another customer's"
    if session.scalar(select(CreditTopUp.id).where(CreditTopUp.invoice_id == advance.id)):
        return (f"{advance.number} is a credit top-up's payment request: its payment is the "
                "customer's credit, not an advance on a supply")
    paid = paid_amounts(session, [advance.id]).get(advance.id, ZERO)
    if paid <= ZERO:
        return f"advance invoice {advance.number} is not paid at all: there is nothing to deduct"
    if paid < advance.total and not partly_paid:
        return f"advance invoice {advance.number} is not fully paid ({paid} of {advance.total})"
    receipts = _receipts(session, advance)
    received = sum((r.total for r in receipts), ZERO)
    if received != paid:
        return (f"advance invoice {advance.number}: tax documents for {received} of "
                f"{paid} received (issue the missing ones first)")
    if check_deducted and deducted_receipt_ids(session, (r.id for r in receipts)):
        return f"advance invoice {advance.number} is already settled"
    return None


@dataclass(frozen=True)
class FinalOptions:
    issue_date: date | None = None
    taxable_date: date | None = None
    due_date: date | None = None
    prices_include_vat: bool = True
    note: str | None = None
    actor: str = "system"


def issue_final_invoice(
    session: Session,
    customer: Customer,
    supply_lines: Sequence[LineInput],
    supplier: Supplier,
    advances: Sequence[Invoice],
    options: FinalOptions = FinalOptions(),
) -> Invoice:
    """Issue the final invoice for a supply, deducting ``advances`` (paid advance invoices of
    ``customer``, wholly or in part: the receipts of what was received are deducted and a
    partly paid request's unpaid rest is closed by this invoice); post it and settle it.
    Refuses before writing anything."""
    if not supply_lines:
        raise InvoicingError("a final invoice needs the supply's lines")
    if not advances:
        raise SettlementError("a final invoice settles at least one advance")
    if len({a.id for a in advances}) != len(advances):
        raise SettlementError("an advance is given twice")
    for advance in advances:
        if (reason := _refusal(session, advance, customer.id, partly_paid=True)) is not None:
            raise SettlementError(reason)
    receipts = [r for advance in advances for r in _receipts(session, advance)]
    paid = paid_amounts(session, [a.id for a in advances])
    rests = [(a, a.total - paid.get(a.id, ZERO)) for a in advances
             if a.total - paid.get(a.id, ZERO) > ZERO]
    doc = compute_final(supply_lines, options.prices_include_vat, receipts)

    issued = options.issue_date or today()
    contract = customer.contracts[0] if customer.contracts else None
    number = next_number(session, issued.year, supplier.invoice_number_format)
    if not (number.isdigit() and len(number) <= 10):
        raise InvoicingError(f"invoice {number}: no numeric specific symbol")
    note = options.note or (
        "Vyúčtování záloh: "
        + ", ".join(f"{a.number}" for a in advances)
        + (". Přeplatek vám vrátíme nebo započteme." if doc.total < 0 else ".")
    )
    invoice = Invoice(
        customer_id=customer.id,
        contract_id=contract.id if contract else None,
        number=number,
        kind=InvoiceKind.REGULAR.value,
        issue_date=issued,
        taxable_date=options.taxable_date or issued,
        due_date=options.due_date or issued + timedelta(days=DEFAULT_DUE_DAYS),
        variable_symbol=contract.number if contract else customer.customer_number,
        specific_symbol=number,
        total_net=doc.total_net,
        total_vat=doc.total_vat,
        total=doc.total,
        note=note,
        **_snapshots(customer, supplier),
    )
    position = 0
    for cl in doc.supply:
        position += 1
        invoice.lines.append(InvoiceLine(
            position=position, description=cl.line.description,
            quantity=Decimal(cl.line.quantity), unit=cl.line.unit,
            unit_price=Decimal(cl.line.unit_price),
            prices_include_vat=options.prices_include_vat, vat_rate=Decimal(cl.line.vat_rate),
            net=cl.net, vat=cl.vat, gross=cl.gross, service_id=cl.line.service_id,
        ))
    for d in doc.deductions:
        position += 1
        invoice.lines.append(InvoiceLine(
            position=position, description=d.description, quantity=Decimal(1), unit="",
            unit_price=d.base, prices_include_vat=False, vat_rate=d.rate,
            net=d.base, vat=d.vat, gross=d.total,
        ))
    for split in doc.recap:
        invoice.vat_recap.append(
            InvoiceVatRecap(rate=split.rate, base=split.base, vat=split.vat, total=split.total))
    session.add(invoice)
    session.flush()
    for receipt in receipts:
        session.add(AdvanceDeduction(invoice_id=invoice.id, receipt_id=receipt.id,
                                     advance_invoice_id=receipt.advance_invoice_id))
    session.flush()
    postings.post_final_invoice(
        session, invoice, supply_net=sum((cl.net for cl in doc.supply), ZERO),
        supply_vat=sum((cl.vat for cl in doc.supply), ZERO),
        advances_total=doc.advances_total, actor=options.actor,
        closed_rest=sum((rest for _, rest in rests), ZERO))
    if rests:  # the partly paid requests' unpaid rest is closed by this invoice
        closing = [Allocation(invoice_id=a.id, credit_note_id=invoice.id, amount=rest)
                   for a, rest in rests]
        session.add_all(closing)
        session.flush()
        postings.post_allocations(session, [
            {"id": c.id, "customer_id": customer.id, "invoice_id": c.invoice_id,
             "amount": c.amount} for c in closing], options.actor)
    settle(session, [customer.id], {}, actor=options.actor)
    audit.record(
        session, "invoice.issued", actor=options.actor, customer_id=customer.id,
        new_value=number,
        details={"kind": "final", "total": str(invoice.total),
                 "advances": [a.number for a in advances],
                 "receipts": [r.number for r in receipts],
                 "deducted": str(doc.advances_total),
                 "closed_unpaid": {a.number: str(rest) for a, rest in rests}},
    )
    return invoice


def _snapshots(customer: Customer, supplier: Supplier) -> dict:
    return dict(
        supplier_name=supplier.name, supplier_address=supplier.address,
        supplier_ico=supplier.ico, supplier_dic=supplier.dic, supplier_account=supplier.account,
        supplier_iban=supplier.iban, supplier_register=supplier.register,
        customer_name=customer.name, customer_address=customer.address,
        customer_ico=customer.ico, customer_dic=customer.dic,
    )


def supply_of(advance: Invoice) -> tuple[list[LineInput], bool]:
    """The supply an advance requested payment for: its own lines (and their VAT mode)."""
    lines = [LineInput(line.description, Decimal(line.quantity), Decimal(line.unit_price),
                       Decimal(line.vat_rate), line.unit, line.service_id)
             for line in advance.lines]
    includes_vat = advance.lines[0].prices_include_vat if advance.lines else True
    return lines, includes_vat


def settle_paid_advances(session: Session, supplier: Supplier, *, on: date | None = None,
                         actor: str = "system") -> list[Invoice]:
    """The run's step: settle every fully paid advance not deducted yet by a final invoice
    for the advance's own supply (one final invoice per advance). Returns them."""
    on = on or today()
    issued = []
    for advance in settleable_advances(session):
        customer = session.get(Customer, advance.customer_id)
        lines, includes_vat = supply_of(advance)
        issued.append(issue_final_invoice(
            session, customer, lines, supplier, [advance],
            FinalOptions(issue_date=on, prices_include_vat=includes_vat, actor=actor),
        ))
    return issued


def deductions_of(session: Session, invoice_id: int) -> list[tuple[TaxReceipt, Invoice]]:
    """The receipts a final invoice deducted, with their advance invoices (for the PDF)."""
    rows = session.execute(
        select(TaxReceipt, Invoice)
        .join(AdvanceDeduction, AdvanceDeduction.receipt_id == TaxReceipt.id)
        .join(Invoice, Invoice.id == TaxReceipt.advance_invoice_id)
        .where(AdvanceDeduction.invoice_id == invoice_id)
        .order_by(AdvanceDeduction.id)
    ).all()
    return [(receipt, advance) for receipt, advance in rows]


__all__ = [
    "DeductionLine",
    "FinalDocument",
    "FinalOptions",
    "SettlementError",
    "compute_final",
    "deductions_of",
    "issue_final_invoice",
    "settle_paid_advances",
    "settleable_advances",
    "supply_of",
]

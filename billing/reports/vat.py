"""VAT per rate for a period, from every tax document of the period, with the kontrolní
hlášení split into section A.4 (rows) and A.5 (sums).

The tax documents (docs/facts/kontrolni-hlaseni.md): invoices of every kind but the
advance invoice (a payment request, no DUZP), credit notes (negative), and the tax
documents for received advance payments (``tax_receipt``) and their corrective documents
(``tax_receipt_correction``, negative). A document belongs to the period of its date of
taxable supply: ``Invoice.taxable_date``, ``TaxReceipt.received_on``; a corrective document
to the period of the correction (``TaxReceiptCorrection.corrected_on``, § 42). Base
and VAT are summed **as printed** on each document's per-rate recap (``invoice_vat_recap``,
``tax_receipt_vat``), never recomputed from lines or totals.

A.4: documents to a customer with a DIČ worth more than 10 000 Kč including VAT, one row
each; a credit note goes where the invoice it corrects went, a receipt's corrective document
where the receipt went. A.5: the rest of what is
taxed, summed per rate. 0 % (exempt) amounts are in the VAT totals but in neither section.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from billing.models import (
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceVatRecap,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptCorrectionVat,
    TaxReceiptVat,
)
from billing.reports.period import Period

ZERO = Decimal("0.00")
KH_LIMIT = Decimal("10000.00")  # A.4: "over 10 000 Kč including VAT" (strictly more)
A4, A5 = "A.4", "A.5"
# the rates every report shows, even when the period has none of them (docs/facts/vat.md)
STANDARD_RATES = (Decimal("21"), Decimal("12"), Decimal("0"))


class DocumentKind:
    """What a row of the VAT report is (not a table's status: a label of the report)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    ADVANCE_RECEIPT = "advance_receipt"  # daňový doklad k přijaté platbě
    # opravný daňový doklad k daňovému dokladu k přijaté platbě
    RECEIPT_CORRECTION = "advance_receipt_correction"


@dataclass(frozen=True)
class RateAmounts:
    base: Decimal = ZERO
    vat: Decimal = ZERO

    def __add__(self, other: RateAmounts) -> RateAmounts:
        return RateAmounts(self.base + other.base, self.vat + other.vat)

    @property
    def total(self) -> Decimal:
        return self.base + self.vat


@dataclass(frozen=True)
class VatDocument:
    """One tax document of the period as printed: its recap per rate."""

    kind: str  # DocumentKind
    number: str
    customer_number: str
    customer_name: str
    dic: str | None  # the customer's DIČ as printed on the document
    taxable_date: date  # DUZP (DPPD in the kontrolní hlášení)
    issue_date: date
    total: Decimal  # including VAT, as printed
    rates: dict[Decimal, RateAmounts]
    corrects: str | None = None  # a credit note (a receipt's correction): what it corrects
    section: str | None = None  # A.4, A.5, or None (nothing taxed: not in the KH)

    def amounts(self, rate: Decimal) -> RateAmounts:
        return self.rates.get(Decimal(rate), RateAmounts())


@dataclass
class VatReport:
    period: Period
    documents: list[VatDocument]
    totals: dict[Decimal, RateAmounts] = field(default_factory=dict)
    a4: list[VatDocument] = field(default_factory=list)
    a5: dict[Decimal, RateAmounts] = field(default_factory=dict)

    @property
    def rates(self) -> list[Decimal]:
        """Every rate shown: the standard ones and any other the documents carry (older
        documents' 15 % or 10 %), highest first."""
        found = set(STANDARD_RATES) | set(self.totals)
        return sorted(found, reverse=True)

    @property
    def taxed_rates(self) -> list[Decimal]:
        return [r for r in self.rates if r > 0]

    @property
    def total_base(self) -> Decimal:
        return sum((a.base for a in self.totals.values()), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((a.vat for a in self.totals.values()), ZERO)

    def total(self, rate) -> RateAmounts:
        return self.totals.get(Decimal(rate), RateAmounts())

    def a5_amounts(self, rate) -> RateAmounts:
        return self.a5.get(Decimal(rate), RateAmounts())

    def a4_sum(self, rate) -> RateAmounts:
        return _sum_rate(self.a4, Decimal(rate))


def kh_section(dic: str | None, total: Decimal, taxed: bool,
               corrected: tuple[str | None, Decimal] | None = None) -> str | None:
    """The kontrolní hlášení section of a document: ``A.4`` for a customer with a DIČ and
    more than 10 000 Kč including VAT, else ``A.5``; None when nothing on it is taxed. A
    credit note (``corrected``: the corrected invoice's DIČ and total) goes where that
    invoice went (docs/facts/kontrolni-hlaseni.md)."""
    if not taxed:
        return None
    if corrected is not None:
        dic, total = corrected
    return A4 if dic and abs(total) > KH_LIMIT else A5


@lru_cache(maxsize=64)
def rate_key(rate) -> Decimal:
    """``Decimal("21.00")`` -> ``Decimal("21")``: one key (and one label) per rate."""
    rate = Decimal(rate)
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


def _sum_rate(documents: Iterable[VatDocument], rate: Decimal) -> RateAmounts:
    result = RateAmounts()
    for doc in documents:
        result = result + doc.amounts(rate)
    return result


def _per_document(rows) -> list[tuple[tuple, dict[Decimal, RateAmounts]]]:
    """Rows of a document joined to its recap (the document's id first; the recap's rate, base
    and VAT last, NULL without a recap; one row per rate, the recap tables being unique per
    rate) -> per document, in the rows' order: its first row and its rates."""
    grouped: dict[int, list] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return [(parts[0], {rate_key(p[-3]): RateAmounts(p[-2], p[-1])
                        for p in parts if p[-3] is not None})
            for parts in grouped.values()]


def _invoice_documents(session: Session, period: Period) -> list[VatDocument]:
    corrected = aliased(Invoice)
    rows = session.execute(
        select(
            Invoice.id, Invoice.kind, Invoice.number, Customer.customer_number,
            Invoice.customer_name, Invoice.customer_dic, Invoice.taxable_date,
            Invoice.issue_date, Invoice.total, corrected.number, corrected.customer_dic,
            corrected.total, InvoiceVatRecap.rate, InvoiceVatRecap.base, InvoiceVatRecap.vat,
        )
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(corrected, corrected.id == Invoice.corrects_invoice_id)
        .outerjoin(InvoiceVatRecap, InvoiceVatRecap.invoice_id == Invoice.id)
        .where(
            Invoice.kind != InvoiceKind.ADVANCE.value,
            Invoice.taxable_date.is_not(None),
            Invoice.taxable_date >= period.start,
            Invoice.taxable_date <= period.end,
        )
        .order_by(Invoice.taxable_date, Invoice.number, InvoiceVatRecap.rate.desc())
    ).all()
    documents = []
    for first, rates in _per_document(rows):
        (_id, kind, number, customer_number, name, dic, taxable, issued, total,
         corrected_number, corrected_dic, corrected_total, *_recap) = first
        is_credit_note = kind == InvoiceKind.CREDIT_NOTE.value
        corrected_by = ((corrected_dic, corrected_total)
                        if is_credit_note and corrected_number is not None else None)
        documents.append(VatDocument(
            kind=DocumentKind.CREDIT_NOTE if is_credit_note else DocumentKind.INVOICE,
            number=number, customer_number=customer_number, customer_name=name, dic=dic,
            taxable_date=taxable, issue_date=issued, total=total, rates=rates,
            corrects=corrected_number if is_credit_note else None,
            section=kh_section(dic, total, _taxed(rates), corrected_by),
        ))
    return documents


def _receipt_documents(session: Session, period: Period) -> list[VatDocument]:
    rows = session.execute(
        select(
            TaxReceipt.id, TaxReceipt.number, Customer.customer_number, Invoice.customer_name,
            Invoice.customer_dic, TaxReceipt.received_on, TaxReceipt.issue_date,
            TaxReceipt.total, TaxReceiptVat.rate, TaxReceiptVat.base, TaxReceiptVat.vat,
        )
        .join(Invoice, Invoice.id == TaxReceipt.advance_invoice_id)
        .join(Customer, Customer.id == TaxReceipt.customer_id)
        .outerjoin(TaxReceiptVat, TaxReceiptVat.receipt_id == TaxReceipt.id)
        .where(TaxReceipt.received_on >= period.start, TaxReceipt.received_on <= period.end)
        .order_by(TaxReceipt.received_on, TaxReceipt.number, TaxReceiptVat.rate.desc())
    ).all()
    documents = []
    for first, rates in _per_document(rows):
        _id, number, customer_number, name, dic, received, issued, total, *_ = first
        documents.append(VatDocument(
            kind=DocumentKind.ADVANCE_RECEIPT, number=number,
            customer_number=customer_number, customer_name=name, dic=dic,
            taxable_date=received, issue_date=issued, total=total, rates=rates,
            section=kh_section(dic, total, _taxed(rates)),
        ))
    return documents


def _correction_documents(session: Session, period: Period) -> list[VatDocument]:
    C, CV = TaxReceiptCorrection, TaxReceiptCorrectionVat
    rows = session.execute(
        select(
            C.id, C.number, Customer.customer_number, Invoice.customer_name,
            Invoice.customer_dic, C.corrected_on, C.issue_date, C.total, TaxReceipt.number,
            TaxReceipt.total, CV.rate, CV.base, CV.vat,
        )
        .join(TaxReceipt, TaxReceipt.id == C.receipt_id)
        .join(Invoice, Invoice.id == TaxReceipt.advance_invoice_id)
        .join(Customer, Customer.id == C.customer_id)
        .outerjoin(CV, CV.correction_id == C.id)
        .where(C.corrected_on >= period.start, C.corrected_on <= period.end)
        .order_by(C.corrected_on, C.number, CV.rate.desc())
    ).all()
    documents = []
    for first, rates in _per_document(rows):
        (_id, number, customer_number, name, dic, corrected_on, issued, total, receipt_number,
         receipt_total, *_) = first
        documents.append(VatDocument(
            kind=DocumentKind.RECEIPT_CORRECTION, number=number,
            customer_number=customer_number, customer_name=name, dic=dic,
            taxable_date=corrected_on, issue_date=issued, total=total, rates=rates,
            corrects=receipt_number,
            section=kh_section(dic, total, _taxed(rates), (dic, receipt_total)),
        ))
    return documents


def _taxed(rates: dict[Decimal, RateAmounts]) -> bool:
    return any(rate > 0 and (a.base or a.vat) for rate, a in rates.items())


def vat_report(session: Session, period: Period) -> VatReport:
    """The period's tax documents, VAT per rate, and the A.4 rows and A.5 sums."""
    documents = (_invoice_documents(session, period) + _receipt_documents(session, period)
                 + _correction_documents(session, period))
    documents.sort(key=lambda d: (d.taxable_date, d.number))
    report = VatReport(period, documents)
    totals: dict[Decimal, list[Decimal]] = {}
    a5: dict[Decimal, list[Decimal]] = {}
    for doc in documents:
        in_a5 = doc.section == A5
        for rate, amounts in doc.rates.items():
            total = totals.get(rate)
            if total is None:
                total = totals[rate] = [ZERO, ZERO]
            total[0] += amounts.base
            total[1] += amounts.vat
            if in_a5 and rate > 0:
                part = a5.get(rate)
                if part is None:
                    part = a5[rate] = [ZERO, ZERO]
                part[0] += amounts.base
                part[1] += amounts.vat
        if doc.section == A4:
            report.a4.append(doc)
    report.totals = {rate: RateAmounts(*sums) for rate, sums in totals.items()}
    report.a5 = {rate: RateAmounts(*sums) for rate, sums in a5.items()}
    return report

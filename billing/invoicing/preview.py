"""What the monthly run would issue, without issuing anything.

:func:`preview_month` selects the customers and their lines exactly as
:func:`billing.invoicing.recurring.issue_month` does (the same query, the same
``month_lines``: tariff history, surcharges, and prices with VAT included) and computes each would-be invoice with the
same VAT rules, but writes nothing: no number is taken, nothing is posted. The totals per
VAT rate are summed from the per-invoice recaps (each invoice's VAT is computed per rate
from its own lines, § 37), so they equal what the run would issue the same day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.recurring import month_customers, month_lines, parse_month
from billing.invoicing.vat import ComputedDocument, compute_document
from billing.models import Invoice, InvoiceKind

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PreviewInvoice:
    customer_id: int
    customer_number: str
    customer_name: str
    document: ComputedDocument

    @property
    def total(self) -> Decimal:
        return self.document.total


@dataclass
class RatePreview:
    rate: Decimal
    base: Decimal = ZERO
    vat: Decimal = ZERO
    total: Decimal = ZERO


@dataclass
class MonthPreview:
    period: str
    issue_date: date
    taxable_date: date
    invoices: list[PreviewInvoice] = field(default_factory=list)
    already_invoiced: int = 0
    rates: dict[Decimal, RatePreview] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.rates.values()), ZERO)

    @property
    def total_net(self) -> Decimal:
        return sum((r.base for r in self.rates.values()), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((r.vat for r in self.rates.values()), ZERO)

    def by_rate(self) -> list[RatePreview]:
        return [self.rates[r] for r in sorted(self.rates, reverse=True)]

    def __str__(self) -> str:
        head = (f"{self.period}: {len(self.invoices)} invoices would be issued "
                f"({self.total} CZK), {self.already_invoiced} customers already invoiced")
        rates = [f"  {r.rate:>5} %  base {r.base:>12}  VAT {r.vat:>10}  total {r.total:>12}"
                 for r in self.by_rate()]
        return "\n".join([head, *rates])


def preview_month(session: Session, month: str, on: date) -> MonthPreview:
    """The invoices ``issue_month(session, supplier, month, on=on)`` would issue. Reads only.
    A malformed ``month`` raises ValueError (as the run does)."""
    first, last = parse_month(month)
    preview = MonthPreview(month, max(first, on), first)
    already = set(session.scalars(
        select(Invoice.customer_id).where(Invoice.period_key == month,
                                          Invoice.kind == InvoiceKind.REGULAR)))
    customers = month_customers(session, first, last)
    planned = month_lines(session, [c for c in customers if c.id not in already], first, last)
    for customer in customers:
        if customer.id in already:
            preview.already_invoiced += 1
            continue
        lines = planned[customer.id]
        if not lines:
            continue
        doc = compute_document(lines, True)
        if doc.total <= 0:
            continue  # the run refuses such an invoice too (issue_invoice)
        preview.invoices.append(
            PreviewInvoice(customer.id, customer.customer_number, customer.name, doc))
        for split in doc.recap:
            r = preview.rates.setdefault(split.rate, RatePreview(split.rate))
            r.base += split.base
            r.vat += split.vat
            r.total += split.total
    return preview


__all__ = ["MonthPreview", "PreviewInvoice", "RatePreview", "preview_month"]

"""Monthly invoicing: one invoice per customer for the month's active services.

Services that start or end within the month are prorated by days. Running the same month
twice issues nothing new (one regular invoice per customer and period, enforced by a unique
constraint as well as checked up front).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput, money
from billing.models import Customer, Invoice, InvoiceKind, RenewalTariff, Service, ServicePeriod
from core.clock import today

MONTHS_CS = (
    "leden", "únor", "březen", "duben", "květen", "červen",
    "červenec", "srpen", "září", "říjen", "listopad", "prosinec",
)  # fmt: skip


@dataclass
class RunReport:
    period: str
    issued: list[Invoice] = field(default_factory=list)
    skipped_existing: int = 0
    settled: list[Invoice] = field(default_factory=list)  # final invoices deducting advances

    def __str__(self) -> str:
        total = sum((i.total for i in self.issued), Decimal("0.00"))
        return (
            f"{self.period}: {len(self.issued)} invoices issued ({total} CZK), "
            f"{self.skipped_existing} customers already invoiced"
            + (f", {len(self.settled)} paid advances settled" if self.settled else "")
        )


def parse_month(text: str) -> tuple[date, date]:
    try:
        year, month = (int(p) for p in text.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, not {text!r}") from exc
    return first, date(year, month, calendar.monthrange(year, month)[1])


def service_line(service: Service, first: date, last: date,
                 surcharges: dict[str, Decimal] | None = None) -> LineInput | None:
    """The invoice line of one service for the month, prorated by days; None if nothing due.

    A service with an expiry (``expires_on``) is prepaid and billed by its renewals
    (billing/credit/renewals.py), not here. A yearly product billed monthly
    (``billed_monthly``) costs price / 12 plus its tariff's surcharge (``surcharges``: tariff
    name -> percent, ``renewal_tariff``) a month, prorated like a monthly one. A yearly
    service is billed in the month of its anniversary for the year that starts then; when
    it ends within that year (``valid_to``) the year is prorated by days (days from the
    anniversary to the end, both included, over the days of that service year)."""
    if service.expires_on is not None and not service.billed_monthly:
        return None
    start = max(service.valid_from, first)
    end = min(service.valid_to or last, last)
    if start > end or service.price <= 0:
        return None
    label = f"{service.name} – {MONTHS_CS[first.month - 1]} {first.year}"
    if service.period == ServicePeriod.MONTH or (
            service.period == ServicePeriod.YEAR and service.billed_monthly):
        days_in_month = (last - first).days + 1
        days = (end - start).days + 1
        amount = service.price
        if service.period == ServicePeriod.YEAR:
            percent = (surcharges or {}).get(service.name, Decimal("0"))
            amount = money(Decimal(service.price) / 12 * (100 + Decimal(percent)) / 100)
            label += " (roční služba placená měsíčně)"
        if days < days_in_month:
            amount = money(amount * days / days_in_month)
            label += f" ({start.day}.–{end.day}. {first.month}., {days}/{days_in_month} dní)"
        return LineInput(label, Decimal("1"), amount, service.vat_rate, "měs.", service.id)
    if service.period == ServicePeriod.YEAR and service.valid_from.month == first.month:
        anniversary = _anniversary(service.valid_from, first.year)
        year_end = _anniversary(service.valid_from, first.year + 1) - timedelta(days=1)
        if service.valid_to is not None and service.valid_to < year_end:
            if service.valid_to < anniversary:
                return None
            days = (service.valid_to - anniversary).days + 1
            whole = (year_end - anniversary).days + 1
            return LineInput(
                f"{service.name} – {first.year} ({days}/{whole} dní)", Decimal("1"),
                money(Decimal(service.price) * days / whole), service.vat_rate, "rok", service.id)
        return LineInput(f"{service.name} – {first.year}", Decimal("1"), service.price, service.vat_rate, "rok", service.id)
    if service.period == ServicePeriod.ONCE and first <= service.valid_from <= last:
        return LineInput(service.name, Decimal("1"), service.price, service.vat_rate, "ks", service.id)
    return None


def _anniversary(start: date, year: int) -> date:
    """``start``'s day and month in ``year`` (29 February becomes the 28th)."""
    return date(year, start.month, min(start.day, calendar.monthrange(year, start.month)[1]))


def issue_month(
    session: Session, supplier: Supplier, month: str, actor: str = "system", on: date | None = None
) -> RunReport:
    """Issue the month's invoices. DUZP is the first of the month; the issue date is the
    first of the month too, or the day of the run (``on``, default today) when that is
    later: an invoice issued late is dated when it is really issued and gets its full
    payment term, instead of being overdue the moment it is sent (and handed to
    enforcement for a debt the customer has not yet been asked to pay)."""
    first, last = parse_month(month)
    issued = max(first, on or today())
    report = RunReport(month)
    already = set(
        session.scalars(
            select(Invoice.customer_id).where(Invoice.period_key == month, Invoice.kind == InvoiceKind.REGULAR)
        )
    )
    customers = session.scalars(
        select(Customer)
        .join(Service, Service.customer_id == Customer.id)
        .where(Service.valid_from <= last, (Service.valid_to.is_(None)) | (Service.valid_to >= first))
        .options(selectinload(Customer.services), selectinload(Customer.contracts))
        .distinct()
        .order_by(Customer.id)
    ).all()
    surcharges = dict(session.execute(
        select(RenewalTariff.name, RenewalTariff.monthly_surcharge_percent)).all())
    for customer in customers:
        if customer.id in already:
            report.skipped_existing += 1
            continue
        lines = [ln for s in customer.services if (ln := service_line(s, first, last, surcharges))]
        if not lines:
            continue
        invoice = issue_invoice(
            session,
            customer,
            lines,
            supplier,
            IssueOptions(issue_date=issued, taxable_date=first, period_key=month, actor=actor),
        )
        report.issued.append(invoice)
    # paid advances (new, the demo's, imported ones) get their final invoice (settlement.py)
    report.settled = settle_paid_advances(session, supplier, on=issued, actor=actor)
    return report

"""Monthly invoicing: one invoice per customer for the month's active services.

Services that start or end within the month are prorated by days, and so is a month in
which the service's tariff changed (``service_tariff``, billing/customers/services.py):
each part at the price in force on its days. Running the same month
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
from sqlalchemy.orm.attributes import set_committed_value

from billing.invoicing.issue_batch import issue_regular_batch
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput, money
from billing.models import (
    Contract,
    Customer,
    Invoice,
    InvoiceKind,
    RenewalTariff,
    Service,
    ServicePeriod,
    ServiceTariff,
)
from core.clock import today
from core.db import is_in

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


@dataclass(frozen=True)
class Tariff:
    """The name and price a service is billed at from ``effective_from`` on."""

    effective_from: date
    name: str
    price: Decimal
    vat_rate: Decimal


def tariffs_of(session: Session, service_ids) -> dict[int, list[Tariff]]:
    """Each service's tariff history (``service_tariff``), oldest first; for one day the
    newest row wins (a planned change corrected later)."""
    result: dict[int, list[Tariff]] = {}
    ids = sorted(set(service_ids))
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(ServiceTariff)
            .where(ServiceTariff.service_id.in_(ids[start : start + 500]))
            .order_by(ServiceTariff.service_id, ServiceTariff.effective_from, ServiceTariff.id)
        )
        for row in rows:
            result.setdefault(row.service_id, []).append(
                Tariff(row.effective_from, row.name, row.price, row.vat_rate))
    return result


def _tariff_on(service: Service, history: list[Tariff] | None, day: date) -> Tariff:
    found = None
    for step in history or ():
        if step.effective_from <= day:
            found = step
    if found is None:  # no history (or none yet on that day): the service's own tariff
        return Tariff(service.valid_from, service.name, service.price, service.vat_rate)
    return found


def _segments(service: Service, history: list[Tariff] | None, start: date, end: date):
    """``(from, to, tariff)`` pieces of ``start..end`` with one tariff each."""
    cuts = sorted({step.effective_from for step in history or () if start < step.effective_from <= end})
    bounds = [start, *cuts]
    pieces = []
    for i, begin in enumerate(bounds):
        finish = bounds[i + 1] - timedelta(days=1) if i + 1 < len(bounds) else end
        tariff = _tariff_on(service, history, begin)
        if pieces and pieces[-1][2] == tariff:
            pieces[-1] = (pieces[-1][0], finish, tariff)
        else:
            pieces.append((begin, finish, tariff))
    return pieces


def service_lines(service: Service, first: date, last: date,
                  history: list[Tariff] | None = None,
                  surcharges: dict[str, Decimal] | None = None) -> list[LineInput]:
    """The invoice lines of one service for the month: monthly services prorated by days
    and split where the tariff changed within the month (each part at its own price).

    A service with an expiry (``expires_on``) is prepaid and billed by its renewals
    (billing/credit/renewals.py), not here. A yearly product billed monthly
    (``billed_monthly``) costs price / 12 plus its tariff's surcharge (``surcharges``: tariff
    name -> percent, ``renewal_tariff``) a month, prorated like a monthly one. A yearly
    service is billed in the month of its anniversary for the year that starts then; when
    it ends within that year (``valid_to``) the year is prorated by days (days from the
    anniversary to the end, both included, over the days of that service year)."""
    if service.expires_on is not None and not service.billed_monthly:
        return []
    start = max(service.valid_from, first)
    end = min(service.valid_to or last, last)
    if start > end:
        return []
    yearly_monthly = service.period == ServicePeriod.YEAR and service.billed_monthly
    if service.period == ServicePeriod.MONTH or yearly_monthly:
        lines = []
        days_in_month = (last - first).days + 1
        for begin, finish, tariff in _segments(service, history, start, end):
            if tariff.price <= 0:
                continue
            label = f"{tariff.name} – {MONTHS_CS[first.month - 1]} {first.year}"
            days = (finish - begin).days + 1
            amount = tariff.price
            if yearly_monthly:
                percent = (surcharges or {}).get(tariff.name, Decimal("0"))
                amount = money(Decimal(tariff.price) / 12 * (100 + Decimal(percent)) / 100)
                label += " (roční služba placená měsíčně)"
            if days < days_in_month:
                amount = money(amount * days / days_in_month)
                label += f" ({begin.day}.–{finish.day}. {first.month}., {days}/{days_in_month} dní)"
            lines.append(LineInput(label, Decimal("1"), amount, tariff.vat_rate, "měs.", service.id))
        return lines
    if service.period == ServicePeriod.YEAR and service.valid_from.month == first.month:
        anniversary = _anniversary(service.valid_from, first.year)
        tariff = _tariff_on(service, history, max(anniversary, start))
        if tariff.price <= 0:
            return []
        year_end = _anniversary(service.valid_from, first.year + 1) - timedelta(days=1)
        if service.valid_to is not None and service.valid_to < year_end:
            if service.valid_to < anniversary:
                return []
            days = (service.valid_to - anniversary).days + 1
            whole = (year_end - anniversary).days + 1
            return [LineInput(
                f"{tariff.name} – {first.year} ({days}/{whole} dní)", Decimal("1"),
                money(Decimal(tariff.price) * days / whole), tariff.vat_rate, "rok", service.id)]
        return [LineInput(f"{tariff.name} – {first.year}", Decimal("1"), tariff.price,
                          tariff.vat_rate, "rok", service.id)]
    if service.period == ServicePeriod.ONCE and first <= service.valid_from <= last:
        tariff = _tariff_on(service, history, service.valid_from)
        if tariff.price <= 0:
            return []
        return [LineInput(tariff.name, Decimal("1"), tariff.price, tariff.vat_rate, "ks",
                          service.id)]
    return []


def _anniversary(start: date, year: int) -> date:
    """``start``'s day and month in ``year`` (29 February becomes the 28th)."""
    return date(year, start.month, min(start.day, calendar.monthrange(year, start.month)[1]))


def service_line(service: Service, first: date, last: date,
                 surcharges: dict[str, Decimal] | None = None) -> LineInput | None:
    """The one invoice line of a service without a tariff history (kept for callers that
    bill a single service at its current tariff)."""
    lines = service_lines(service, first, last, surcharges=surcharges)
    return lines[0] if lines else None


def _in_force(first: date, last: date):
    return (Service.valid_from <= last) & ((Service.valid_to.is_(None)) | (Service.valid_to >= first))


def month_customers(session: Session, first: date, last: date) -> list[Customer]:
    """The customers with a service in force on some day of ``first..last``, with their
    services and contracts loaded: whom :func:`issue_month` bills and the preview shows."""
    return list(session.scalars(
        select(Customer)
        .join(Service, Service.customer_id == Customer.id)
        .where(_in_force(first, last))
        .options(selectinload(Customer.services), selectinload(Customer.contracts))
        .distinct()
        .order_by(Customer.id)
    ).all())


def month_customer_ids(session: Session, first: date, last: date) -> list[int]:
    """The ids of :func:`month_customers` (one statement, no objects): the monthly run's
    plan (billing.invoicing.monthly_run)."""
    return list(session.scalars(
        select(Service.customer_id).where(_in_force(first, last)).distinct()
        .order_by(Service.customer_id)))


def customers_with_services(session: Session, customer_ids) -> list[Customer]:
    """The given customers with their services and contracts loaded, by id: three
    statements, each with the ids as one array parameter on PostgreSQL (a selectinload's
    IN list of a thousand placeholders costs more to send than to run)."""
    ids = list(customer_ids)
    customers = list(session.scalars(
        select(Customer).where(is_in(session, Customer.id, ids)).order_by(Customer.id)))
    services: dict[int, list[Service]] = {c.id: [] for c in customers}
    contracts: dict[int, list[Contract]] = {c.id: [] for c in customers}
    for service in session.scalars(select(Service).where(is_in(session, Service.customer_id, ids))
                                   .order_by(Service.id)):
        services[service.customer_id].append(service)
    for contract in session.scalars(select(Contract).where(
            is_in(session, Contract.customer_id, ids)).order_by(Contract.id)):
        contracts[contract.customer_id].append(contract)
    for customer in customers:
        set_committed_value(customer, "services", services[customer.id])
        set_committed_value(customer, "contracts", contracts[customer.id])
    return customers


def month_lines(session: Session, customers, first: date, last: date) -> dict[int, list[LineInput]]:
    """Each customer's invoice lines for the month ``first..last``, with the services' tariff
    history and the yearly-billed-monthly surcharges applied: what :func:`issue_month` bills
    and ``billing.invoicing.preview.preview_month`` shows."""
    history = tariffs_of(session, [s.id for c in customers for s in c.services])
    surcharges = dict(session.execute(
        select(RenewalTariff.name, RenewalTariff.monthly_surcharge_percent)).all())
    return {c.id: [ln for s in c.services
                   for ln in service_lines(s, first, last, history.get(s.id), surcharges)]
            for c in customers}


def issue_month(
    session: Session, supplier: Supplier, month: str, actor: str = "system", on: date | None = None,
    *, chunk: int = 1000,
) -> RunReport:
    """Issue the month's invoices. DUZP is the first of the month; the issue date is the
    first of the month too, or the day of the run (``on``, default today) when that is
    later: an invoice issued late is dated when it is really issued and gets its full
    payment term, instead of being overdue the moment it is sent (and handed to
    enforcement for a debt the customer has not yet been asked to pay).

    In one transaction, ``chunk`` customers at a time (set-based:
    :func:`issue_customers`). The monthly run of the CLI and the console does the same as
    jobs (billing.invoicing.monthly_run), chunk by chunk in transactions of their own."""
    first, last = parse_month(month)
    issued_on = issue_date_of(month, on)
    report = RunReport(month)
    ids = month_customer_ids(session, first, last)
    already = invoiced_customers(session, month)
    report.skipped_existing = len(already.intersection(ids))
    todo = [i for i in ids if i not in already]
    new_ids: list[int] = []
    for start in range(0, len(todo), chunk):
        new_ids += issue_customers(session, supplier, todo[start:start + chunk], month,
                                   issued_on, actor)
    for start in range(0, len(new_ids), chunk):
        report.issued += session.scalars(
            select(Invoice).where(is_in(session, Invoice.id, new_ids[start:start + chunk]))
            .order_by(Invoice.id)).all()
    # paid advances (new, the demo's, imported ones) get their final invoice (settlement.py)
    report.settled = settle_paid_advances(session, supplier, on=issued_on, actor=actor)
    return report


def issue_date_of(month: str, on: date | None = None) -> date:
    """The run's issue date: the first of the month, or ``on`` (default today) if later."""
    first, _ = parse_month(month)
    return max(first, on or today())


def invoiced_customers(session: Session, month: str) -> set[int]:
    """The customers who have the month's regular invoice."""
    return set(session.scalars(
        select(Invoice.customer_id).where(Invoice.period_key == month,
                                          Invoice.kind == InvoiceKind.REGULAR)))


def issue_customers(session: Session, supplier: Supplier, customer_ids, month: str,
                    issue_date: date, actor: str = "system") -> list[int]:
    """The month's regular invoices of the given customers (those with lines and without
    the month's invoice yet), set-based (billing.invoicing.issue_batch); the lines are
    :func:`month_lines`' (the preview's). Returns the new invoices' ids."""
    first, last = parse_month(month)
    customers = customers_with_services(session, customer_ids)
    planned = month_lines(session, customers, first, last)
    return issue_regular_batch(session, customers, planned, supplier, issue_date=issue_date,
                               taxable_date=first, period_key=month, actor=actor)

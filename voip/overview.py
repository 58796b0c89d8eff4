"""What an operator looks at in VoIP: the lines with their credit and top-up cap, the top-ups,
and the preview of a price list before it is imported (which prefixes are new, changed or
removed against the tariff it replaces or follows). Read-only; the console's VoIP pages
call these, and the import itself stays :func:`voip.tariff_import.import_tariff_csv`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, type_coerce
from sqlalchemy.orm import Session

from billing.ledger.balances import line_credit_of
from billing.models import Customer, Invoice, Service, ServiceKind
from core.clock import today
from core.db import Money
from voip.lines import month_start, next_month_start
from voip.models import Tariff, TariffRate, TopUp
from voip.rating import Rate
from voip.tariff_import import parse_tariff_csv
from voip.tariffs import tariff_on


@dataclass(frozen=True)
class Page:
    rows: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class LineRow:
    service_id: int
    number: str
    customer_number: str
    customer_name: str
    credit: Decimal
    cap: Decimal | None  # None: the default (VOIP_TOPUP_CAP)
    spent_this_month: Decimal
    active: bool


def line_list(session: Session, *, search: str = "", page: int = 1, per_page: int = 50,
              on: date | None = None) -> Page:
    """VoIP lines (by number, or the customer's number or name containing ``search``) with
    their credit, cap and this month's top-ups."""
    on = on or today()
    spent = (select(type_coerce(func.coalesce(func.sum(TopUp.amount), 0), Money()))
             .where(TopUp.service_id == Service.id, TopUp.created_at >= month_start(on),
                    TopUp.created_at < next_month_start(on))
             .correlate(Service).scalar_subquery())
    stmt = (
        select(Service, Customer.customer_number, Customer.name, line_credit_of(Service.id),
               spent)
        .join(Customer, Customer.id == Service.customer_id)
        .where(Service.kind == ServiceKind.VOIP.value)
    )
    if search.strip():
        like = f"%{search.strip().replace(' ', '')}%"
        stmt = stmt.where(or_(Service.phone_number.like(like),
                              Customer.customer_number.like(like),
                              Customer.name.ilike(f"%{search.strip()}%")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = session.execute(
        stmt.order_by(Service.phone_number).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page([
        LineRow(s.id, s.phone_number, number, name, credit, s.topup_cap,
                spent_amount,
                s.valid_to is None or s.valid_to >= on)
        for s, number, name, credit, spent_amount in rows
    ], page, per_page, total)


@dataclass(frozen=True)
class TopUpRow:
    id: int
    created_at: datetime
    number: str
    customer_number: str
    amount: Decimal
    invoice_number: str | None
    actor: str


def topup_list(session: Session, *, number: str = "", page: int = 1, per_page: int = 50) -> Page:
    """Top-ups, newest first (optionally of one line)."""
    stmt = (
        select(TopUp, Service.phone_number, Customer.customer_number, Invoice.number)
        .join(Service, Service.id == TopUp.service_id)
        .join(Customer, Customer.id == TopUp.customer_id)
        .outerjoin(Invoice, Invoice.id == TopUp.invoice_id)
    )
    if number.strip():
        stmt = stmt.where(Service.phone_number.like(f"%{number.strip().replace(' ', '')}%"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = session.execute(
        stmt.order_by(TopUp.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page([TopUpRow(t.id, t.created_at, phone, cust, t.amount, inv, t.actor)
                 for t, phone, cust, inv in rows], page, per_page, total)


# -- the tariff preview --------------------------------------------------------------------------

COMPARED = ("destination", "price_per_minute", "connect_fee", "vat_rate", "initial_increment",
            "increment")


@dataclass(frozen=True)
class RateChange:
    prefix: str
    old: Rate | None
    new: Rate | None

    @property
    def fields(self) -> list[str]:
        """What differs between the old and the new rate of the prefix."""
        if self.old is None or self.new is None:
            return []
        return [f for f in COMPARED if getattr(self.old, f) != getattr(self.new, f)]


@dataclass
class TariffPreview:
    valid_from: date
    rates: int  # in the file
    against: Tariff | None  # what the file is compared with
    replaces: bool  # a tariff valid from that very day exists: importing replaces it
    new: list[RateChange] = field(default_factory=list)
    changed: list[RateChange] = field(default_factory=list)
    removed: list[RateChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differs(self) -> bool:
        return bool(self.new or self.changed or self.removed)


def _stored_rates(session: Session, tariff: Tariff) -> dict[str, Rate]:
    return {
        r.prefix: Rate(r.prefix, r.destination, r.price_per_minute, r.connect_fee, r.vat_rate,
                       r.initial_increment, r.increment)
        for r in session.scalars(select(TariffRate).where(TariffRate.tariff_id == tariff.id))
    }


def preview_tariff(session: Session, text: str, valid_from: date | None = None) -> TariffPreview:
    """Parse the price list ``text`` (all or nothing: ``TariffFileError`` with row numbers,
    as the import) and compare it with the tariff it would replace (one valid from the same
    day) or follow (the one in force that day). Writes nothing."""
    rates = {r.prefix: r for r in parse_tariff_csv(text)}
    valid_from = valid_from or today()
    same_day = session.scalar(select(Tariff).where(Tariff.valid_from == valid_from))
    against = same_day or tariff_on(session, valid_from)
    preview = TariffPreview(valid_from, len(rates), against, same_day is not None)
    old = _stored_rates(session, against) if against is not None else {}
    for prefix in sorted(set(rates) | set(old)):
        change = RateChange(prefix, old.get(prefix), rates.get(prefix))
        if change.old is None:
            preview.new.append(change)
        elif change.new is None:
            preview.removed.append(change)
        elif change.fields:
            preview.changed.append(change)
        else:
            preview.unchanged += 1
    return preview

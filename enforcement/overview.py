"""What an operator looks at: the cases (filtered by state, router, overdue debt), the routers
with their health (last contact, pending and failed actions) and the router actions with
the routers' answers. Read-only queries, one function each, that the commands
(``ispzone enforcement cases|actions``) and the console's enforcement pages both call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, case, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from billing.models import Allocation, Customer, Invoice, Service
from core.db import Money, UTCDateTime
from enforcement.models import ActionStatus, CaseState, EnforcementCase, Router, RouterAction

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class CaseRow:
    customer_id: int
    customer_number: str
    name: str
    state: str
    state_since: datetime
    overdue_since: date | None
    disconnect_due: date | None
    exempt: bool
    exempt_until: date | None
    overdue: Decimal  # open amount of the invoices due before the day
    routers: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    rows: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _overdue_of(on: date):
    """SQL: per customer, the open amount of invoices due before ``on``."""
    paid = (select(func.coalesce(func.sum(Allocation.amount), 0))
            .where(Allocation.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery())
    left = Invoice.total - paid
    return (
        select(Invoice.customer_id.label("customer_id"),
               type_coerce(func.sum(left), Money()).label("overdue"))
        .where(Invoice.kind != "credit_note", Invoice.due_date < on, left > 0)
        .group_by(Invoice.customer_id)
        .subquery()
    )


CASE_SORTS = {
    "number": (Customer.customer_number,),
    "state": (EnforcementCase.state, Customer.customer_number),
    "since": (EnforcementCase.state_since,),
    "overdue_since": (EnforcementCase.overdue_since,),
}


def case_list(session: Session, on: date, *, state: str | None = None,
              router: str | None = None, overdue: bool | None = None, search: str = "",
              sort: str = "since", descending: bool = False, page: int = 1,
              per_page: int = 50, default_router: str = "default") -> Page:
    """Cases that are not ``ok`` (or those in ``state``), optionally only customers with an
    internet service on ``router``, only those with (``overdue=True``) or without overdue
    debt; with their overdue amount and routers."""
    debt = _overdue_of(on)
    stmt = (
        select(Customer.id, Customer.customer_number, Customer.name, EnforcementCase,
               Customer.enforcement_exempt, Customer.enforcement_exempt_until,
               func.coalesce(debt.c.overdue, 0))
        .join(EnforcementCase, EnforcementCase.customer_id == Customer.id)
        .outerjoin(debt, debt.c.customer_id == Customer.id)
    )
    if state:
        stmt = stmt.where(EnforcementCase.state == state)
    else:
        stmt = stmt.where(EnforcementCase.state != CaseState.OK.value)
    if router:
        on_router = Service.router_name == router
        if router == default_router:
            on_router = or_(on_router, Service.router_name.is_(None))
        stmt = stmt.where(exists().where(Service.customer_id == Customer.id,
                                         Service.kind == "internet", on_router))
    if overdue is True:
        stmt = stmt.where(debt.c.overdue > 0)
    elif overdue is False:
        stmt = stmt.where(debt.c.customer_id.is_(None))
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(Customer.customer_number.like(like), Customer.name.ilike(like)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    order = CASE_SORTS.get(sort, CASE_SORTS["since"])
    order = [o.desc() for o in order] if descending else list(order)
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = session.execute(
        stmt.order_by(*order, Customer.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    routers = _routers_of(session, [r[0] for r in rows], default_router)
    return Page([
        CaseRow(cid, number, name, c.state, c.state_since, c.overdue_since, c.disconnect_due,
                bool(exempt), until, Decimal(amount), routers.get(cid, ()))
        for cid, number, name, c, exempt, until, amount in rows
    ], page, per_page, total)


def _routers_of(session: Session, customer_ids: list[int], default_router: str) -> dict:
    if not customer_ids:
        return {}
    found: dict[int, set[str]] = {}
    for cid, name in session.execute(
        select(Service.customer_id, Service.router_name)
        .where(Service.customer_id.in_(customer_ids), Service.kind == "internet")
    ):
        found.setdefault(cid, set()).add(name or default_router)
    return {cid: tuple(sorted(names)) for cid, names in found.items()}


def router_names(session: Session, default_router: str = "default") -> list[str]:
    """Every router anyone knows of: registered, named by a service, or by an action."""
    names = set(session.scalars(select(Router.name)))
    names |= {n or default_router for n in session.scalars(
        select(Service.router_name).where(Service.kind == "internet").distinct())}
    names |= set(session.scalars(select(RouterAction.router_name).distinct()))
    return sorted(names)


@dataclass(frozen=True)
class RouterHealth:
    name: str
    driver: str | None  # None: not registered (the default driver is used)
    host: str | None
    enabled: bool
    last_contact: datetime | None  # the last action it confirmed
    pending: int
    failed: int
    oldest_pending: datetime | None
    last_error: str | None
    customers: int  # with an internet service on it

    @property
    def healthy(self) -> bool:
        return self.enabled and self.failed == 0 and not self.last_error


def router_health(session: Session, default_router: str = "default") -> list[RouterHealth]:
    """Each router: its registration, the last action it confirmed (the last contact), the
    pending and failed actions and the newest error of a pending one."""
    registered = {r.name: r for r in session.scalars(select(Router))}
    stats = {
        name: (last, pending, failed, oldest)
        for name, last, pending, failed, oldest in session.execute(
            select(
                RouterAction.router_name,
                type_coerce(func.max(RouterAction.done_at), UTCDateTime()),
                func.sum(case((RouterAction.status == ActionStatus.PENDING.value, 1), else_=0)),
                func.sum(case((RouterAction.status == ActionStatus.FAILED.value, 1), else_=0)),
                type_coerce(func.min(case((RouterAction.status == ActionStatus.PENDING.value,
                                           RouterAction.created_at))), UTCDateTime()),
            ).group_by(RouterAction.router_name)
        )
    }
    errors = dict(session.execute(
        select(RouterAction.router_name, RouterAction.last_error)
        .where(RouterAction.status == ActionStatus.PENDING.value,
               RouterAction.last_error.is_not(None))
        .order_by(RouterAction.id)
    ).all())  # the newest per router wins
    customers = {
        name or default_router: count
        for name, count in session.execute(
            select(Service.router_name, func.count(func.distinct(Service.customer_id)))
            .where(Service.kind == "internet").group_by(Service.router_name))
    }
    result = []
    for name in router_names(session, default_router):
        row = registered.get(name)
        last, pending, failed, oldest = stats.get(name, (None, 0, 0, None))
        result.append(RouterHealth(
            name=name, driver=row.driver if row else None, host=row.host if row else None,
            enabled=row.enabled if row else True, last_contact=last,
            pending=int(pending or 0), failed=int(failed or 0), oldest_pending=oldest,
            last_error=errors.get(name), customers=customers.get(name, 0),
        ))
    return result


@dataclass(frozen=True)
class ActionRow:
    action: RouterAction
    customer_number: str | None

    @property
    def answer(self) -> str:
        """What the router said: its answer when done, else the last error (and, while it is
        retried, when the next attempt is due)."""
        a = self.action
        if a.status == ActionStatus.DONE.value:
            return a.result or ""
        return a.last_error or ""


def action_list(session: Session, *, router: str | None = None, status: str | None = None,
                customer_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    """The router actions, newest first."""
    stmt = (select(RouterAction, Customer.customer_number)
            .outerjoin(Customer, Customer.id == RouterAction.customer_id))
    conditions = []
    if router:
        conditions.append(RouterAction.router_name == router)
    if status:
        conditions.append(RouterAction.status == status)
    if customer_id is not None:
        conditions.append(RouterAction.customer_id == customer_id)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    total = session.scalar(select(func.count(RouterAction.id)).where(*conditions))
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = session.execute(
        stmt.order_by(RouterAction.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page([ActionRow(a, n) for a, n in rows], page, per_page, total)

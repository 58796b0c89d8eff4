"""Read side of money: invoice states, open amounts, overdue debt, and the balances of ledger
accounts, each a sum of legs (docs/ledger.md).

A customer's balance is minus the sum of the legs on their receivable and prepaid-credit
accounts (negative = debt); a VoIP line's credit is minus the sum on its line account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from billing.models import AccountKind, Allocation, Invoice, LedgerAccount, LedgerLeg
from billing.models.credit import CreditTopUp
from billing.models.ledger import CUSTOMER_ACCOUNTS
from core.db import Money, in_constants, money_sum

ZERO = Decimal("0.00")

PAID, PARTLY_PAID, UNPAID, OVERDUE, CREDIT_NOTE = (
    "paid",
    "partly_paid",
    "unpaid",
    "overdue",
    "credit_note",
)


def invoice_status(total: Decimal, paid: Decimal, due_date: date, on: date, kind: str) -> str:
    if kind == "credit_note":
        return CREDIT_NOTE
    if paid >= total:
        return PAID
    if due_date < on:
        return OVERDUE
    return PARTLY_PAID if paid > 0 else UNPAID


@dataclass(frozen=True)
class InvoiceState:
    invoice: Invoice
    paid: Decimal
    status: str

    @property
    def open_amount(self) -> Decimal:
        if self.invoice.kind == "credit_note":
            return ZERO
        return max(self.invoice.total - self.paid, ZERO)

    @property
    def is_open(self) -> bool:
        return self.open_amount > 0


def paid_amounts(session: Session, invoice_ids) -> dict[int, Decimal]:
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Allocation.invoice_id, money_sum(Allocation.amount))
        .where(Allocation.invoice_id.in_(ids))
        .group_by(Allocation.invoice_id)
    )
    return {invoice_id: amount for invoice_id, amount in rows}


def states_for(session: Session, invoices: list[Invoice], on: date) -> list[InvoiceState]:
    paid = paid_amounts(session, (i.id for i in invoices))
    result = []
    for inv in invoices:
        p = paid.get(inv.id, ZERO)
        result.append(InvoiceState(inv, p, invoice_status(inv.total, p, inv.due_date, on, inv.kind)))
    return result


def customer_invoices(session: Session, customer_id: int, on: date) -> list[InvoiceState]:
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    ).all()
    return states_for(session, list(invoices), on)


def open_invoices(session: Session, customer_id: int, on: date) -> list[InvoiceState]:
    """Unpaid or partly paid invoices, oldest first (the order payments settle them)."""
    states = customer_invoices(session, customer_id, on)
    opened = [s for s in states if s.is_open]
    opened.sort(key=lambda s: (s.invoice.due_date, s.invoice.issue_date, s.invoice.id))
    return opened


@dataclass(frozen=True)
class AccountSummary:
    balance: Decimal  # negative = debt
    open_total: Decimal
    overdue_total: Decimal
    oldest_overdue_due: date | None


def account_summary(session: Session, customer_id: int, on: date) -> AccountSummary:
    """Balance, open and overdue totals in one aggregate query (one round trip, no
    invoice objects): the overview page runs it on every visit."""
    row = session.connection().execute(  # Core: no ORM layer for a row of four numbers
        _summary_query(), {"customer_id": customer_id, "on": on}
    ).one()
    open_total, overdue_total, oldest, balance_now = row
    return AccountSummary(
        balance=balance_now,
        open_total=open_total,
        overdue_total=overdue_total,
        oldest_overdue_due=oldest,
    )


@dataclass(frozen=True)
class OpenAmounts:
    """What is paid and what is still open of each invoice, as SQL over ``invoice`` joined
    (:meth:`join`) with the sum of its allocations: the one definition of an invoice's open
    amount on the read side (a customer's account summary, the console's invoice list).
    :class:`InvoiceState` says the same of invoices already loaded."""

    paid_table: Subquery  # (invoice_id, paid): the sum of each invoice's allocations
    paid: ColumnElement  # what is paid of the invoice (0 when nothing)
    is_open: ColumnElement  # not a credit note, and less is paid than its total
    open_amount: ColumnElement  # what is still to pay (0 for a credit note or a paid one)

    def join(self, query: Select) -> Select:
        """``query`` (which selects from ``invoice``) with the paid amounts joined in."""
        return query.outerjoin(self.paid_table, self.paid_table.c.invoice_id == Invoice.id)


def open_amounts(*where) -> OpenAmounts:
    """The columns of :class:`OpenAmounts`, set-based. ``where``: conditions on ``invoice``
    that limit the allocations summed to the invoices the caller reads (one customer's), so
    that the sum does not visit everyone's."""
    paid = select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
    if where:
        paid = paid.join(Invoice, Invoice.id == Allocation.invoice_id).where(*where)
    paid = paid.group_by(Allocation.invoice_id).subquery()
    paid_amount = type_coerce(func.coalesce(paid.c.paid, 0), Money())
    left = Invoice.total - paid_amount
    is_open = and_(Invoice.kind != "credit_note", left > 0)
    return OpenAmounts(paid, paid_amount, is_open,
                       type_coerce(case((is_open, left), else_=0), Money()))


@lru_cache(maxsize=1)
def _summary_query():
    """Built once: composing the expression cost more Python time than PostgreSQL needs
    to answer it."""
    customer_id, on = bindparam("customer_id"), bindparam("on", type_=Date())
    amounts = open_amounts(Invoice.customer_id == customer_id)
    # an unpaid credit top-up request (billing/credit/) is no overdue debt
    overdue = and_(amounts.is_open, Invoice.due_date < on,
                   ~exists().where(CreditTopUp.invoice_id == Invoice.id))
    ledger_sum = _customer_balance_query(customer_id).scalar_subquery()
    return amounts.join(
        select(
            type_coerce(func.coalesce(func.sum(amounts.open_amount), 0), Money()),
            type_coerce(func.coalesce(func.sum(case((overdue, amounts.open_amount))), 0),
                        Money()),
            type_coerce(func.min(case((overdue, Invoice.due_date))), Date()),
            ledger_sum,
        )
        .select_from(Invoice)
    ).where(Invoice.customer_id == customer_id)


# -- balances of ledger accounts ----------------------------------------------------------


def _customer_balance_query(customer_id):
    return (
        select(type_coerce(-func.coalesce(func.sum(LedgerLeg.amount), 0), Money()))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(
            LedgerAccount.customer_id == customer_id,
            in_constants(LedgerAccount.kind, [str(k) for k in CUSTOMER_ACCOUNTS]),
        )
    )


def customer_balance(session: Session, customer_id: int) -> Decimal:
    """Payments and credit notes minus invoices: negative is debt, positive is credit."""
    return session.scalar(_customer_balance_query(customer_id))


def account_balance(session: Session, kind: str, owner: int | None = None) -> Decimal:
    """The sum of the legs of one account (debit +, credit -); 0 for one never used."""
    query = (
        select(money_sum(LedgerLeg.amount))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.kind == str(AccountKind(kind)))
    )
    if AccountKind(kind) in CUSTOMER_ACCOUNTS:
        query = query.where(LedgerAccount.customer_id == owner)
    elif AccountKind(kind) == AccountKind.VOIP_LINE_CREDIT:
        query = query.where(LedgerAccount.service_id == owner)
    return session.scalar(query)


def line_credit_of(service_id):
    """SQL: the credit of the VoIP line ``service_id`` (a value or a correlated column)."""
    return (
        select(type_coerce(-func.coalesce(func.sum(LedgerLeg.amount), 0), Money()))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(
            LedgerAccount.kind == str(AccountKind.VOIP_LINE_CREDIT),
            LedgerAccount.service_id == service_id,
        )
        .scalar_subquery()
    )


def line_credit(session: Session, service_id: int) -> Decimal:
    """A VoIP line's prepaid credit: opening credit + top-ups - calls."""
    return session.scalar(select(line_credit_of(service_id)))


@dataclass(frozen=True)
class InvoiceRow:
    """The columns of an invoice that a list shows (no lines, no snapshots)."""

    id: int
    number: str
    kind: str
    issue_date: date
    due_date: date
    total: Decimal
    currency: str


@dataclass(frozen=True)
class InvoicePage:
    states: list[InvoiceState]  # InvoiceState.invoice is an InvoiceRow here
    page: int
    per_page: int
    total_count: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total_count // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def invoice_page(
    session: Session, customer_id: int, on: date, page: int = 1, per_page: int = 20
) -> InvoicePage:
    """One page of the customer's invoices, newest first, with what is paid of each.

    One query: only the listed columns, the paid amounts joined in and the number of all
    the customer's invoices counted alongside (a window over the same scan), so a customer
    with years of monthly invoices loads none of the others. Only a page past the end
    costs a second look (the count, then the last page).
    """
    per_page = max(1, per_page)
    page = max(1, page)
    rows = _page_rows(session, customer_id, page, per_page)
    if rows:
        total_count = rows[0][-1]
    else:
        total_count = session.scalar(_count_query(), {"customer_id": customer_id})
        last = max(1, -(-total_count // per_page))
        if page > last:
            page = last
            rows = _page_rows(session, customer_id, page, per_page)
    states = []
    for id_, number, kind, issued, due, total, currency, paid_amount, _count in rows:
        inv = InvoiceRow(id_, number, kind, issued, due, total, currency)
        p = paid_amount if paid_amount is not None else ZERO
        states.append(InvoiceState(inv, p, invoice_status(total, p, due, on, kind)))
    return InvoicePage(states, page, per_page, total_count)


def _page_rows(session: Session, customer_id: int, page: int, per_page: int) -> list:
    return session.connection().execute(
        _page_query(),
        {"customer_id": customer_id, "limit": per_page, "offset": (page - 1) * per_page},
    ).all()


@lru_cache(maxsize=1)
def _count_query():
    return select(func.count()).select_from(Invoice).where(
        Invoice.customer_id == bindparam("customer_id")
    )


@lru_cache(maxsize=1)
def _page_query():
    """Only the listed columns, newest first, with the paid amount of each."""
    listed = (
        select(
            Invoice.id, Invoice.number, Invoice.kind, Invoice.issue_date, Invoice.due_date,
            Invoice.total, Invoice.currency, func.count().over().label("total_count"),
        )
        .where(Invoice.customer_id == bindparam("customer_id"))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery()
    )
    paid = (
        select(money_sum(Allocation.amount))
        .where(Allocation.invoice_id == listed.c.id)
        .correlate(listed)
        .scalar_subquery()
    )
    return select(
        listed.c.id, listed.c.number, listed.c.kind, listed.c.issue_date, listed.c.due_date,
        listed.c.total, listed.c.currency, paid, listed.c.total_count,
    ).order_by(listed.c.issue_date.desc(), listed.c.id.desc())

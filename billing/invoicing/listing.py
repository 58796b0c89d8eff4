"""The operators' invoice list: one query with its filters (kind, state, period, a search
text), each row with what is still open. Reads only; the console pages it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, or_, select

from billing.ledger.balances import open_amounts
from billing.models import Customer, Invoice, InvoiceKind

KINDS = tuple(k.value for k in InvoiceKind)
STATUSES = ("open", "overdue", "paid")


def invoice_query(q: str = "", kind: str = "", status: str = "", start: date | None = None,
                  end: date | None = None, today: date | None = None) -> Select:
    """Rows ``(invoice, customer number, paid amount, open amount)`` matching the filters
    (the open amount as billing.ledger.balances.open_amounts defines it); an unknown
    ``kind`` or ``status`` filters nothing."""
    amounts = open_amounts()
    query = amounts.join(
        select(Invoice, Customer.customer_number, amounts.paid.label("paid"),
               amounts.open_amount.label("open"))
        .join(Customer, Customer.id == Invoice.customer_id))
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(Invoice.number.startswith(q), Customer.customer_number == q,
                                Invoice.variable_symbol == q,
                                func.lower(Invoice.customer_name).like(like)))
    if kind in KINDS:
        query = query.where(Invoice.kind == kind)
    if status == "open":
        query = query.where(amounts.is_open)
    elif status == "overdue":
        query = query.where(amounts.is_open, Invoice.due_date < today)
    elif status == "paid":
        query = query.where(Invoice.kind != InvoiceKind.CREDIT_NOTE, ~amounts.is_open)
    if start:
        query = query.where(Invoice.issue_date >= start)
    if end:
        query = query.where(Invoice.issue_date <= end)
    return query


SORTS = {
    "number": Invoice.number, "issued": (Invoice.issue_date, Invoice.id),
    "due": (Invoice.due_date, Invoice.id), "total": (Invoice.total, Invoice.id),
    "customer": (Invoice.customer_name, Invoice.id),
}

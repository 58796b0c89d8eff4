"""The operators' invoice list: one query with its filters (kind, state, period, a search
text), each row with what is still open. Reads only; the console pages it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, func, or_, select

from billing.models import Allocation, Customer, Invoice, InvoiceKind

KINDS = tuple(k.value for k in InvoiceKind)
STATUSES = ("open", "overdue", "paid")


def invoice_query(q: str = "", kind: str = "", status: str = "", start: date | None = None,
                  end: date | None = None, today: date | None = None) -> Select:
    """Rows ``(invoice, customer number, paid amount)`` matching the filters; an unknown
    ``kind`` or ``status`` filters nothing."""
    paid = (select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
            .group_by(Allocation.invoice_id).subquery())
    paid_amount = func.coalesce(paid.c.paid, 0)
    query = (select(Invoice, Customer.customer_number, paid_amount.label("paid"))
             .join(Customer, Customer.id == Invoice.customer_id)
             .outerjoin(paid, paid.c.invoice_id == Invoice.id))
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(Invoice.number.startswith(q), Customer.customer_number == q,
                                Invoice.variable_symbol == q,
                                func.lower(Invoice.customer_name).like(like)))
    if kind in KINDS:
        query = query.where(Invoice.kind == kind)
    is_open = and_(Invoice.kind != InvoiceKind.CREDIT_NOTE, Invoice.total - paid_amount > 0)
    if status == "open":
        query = query.where(is_open)
    elif status == "overdue":
        query = query.where(is_open, Invoice.due_date < today)
    elif status == "paid":
        query = query.where(Invoice.kind != InvoiceKind.CREDIT_NOTE,
                            Invoice.total - paid_amount <= 0)
    if start:
        query = query.where(Invoice.issue_date >= start)
    if end:
        query = query.where(Invoice.issue_date <= end)
    return query


def open_amount(invoice: Invoice, paid: Decimal) -> Decimal:
    """What is still to pay on a row of :func:`invoice_query` (a credit note: nothing)."""
    return Decimal("0.00") if invoice.kind == InvoiceKind.CREDIT_NOTE else invoice.total - paid


SORTS = {
    "number": Invoice.number, "issued": (Invoice.issue_date, Invoice.id),
    "due": (Invoice.due_date, Invoice.id), "total": (Invoice.total, Invoice.id),
    "customer": (Invoice.customer_name, Invoice.id),
}

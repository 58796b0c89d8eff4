"""Helpers the money pages share (console/views_invoices.py, console/views_payments.py):
a page of a sortable query, and the bank accounts a statement may be of."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from flask import current_app, request
from sqlalchemy import func, select

from web.parsing import page_number

PAGE_SIZE = 50


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int
    sort: str
    direction: str

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(session, query, sortable: dict, default: str, *, default_dir: str = "desc") -> Page:
    """One page of ``query`` (a select), sorted by ``?sort=`` (a key of ``sortable``) and
    ``?dir=asc|desc``; ``?page=`` from 1."""
    sort = request.args.get("sort", default)
    if sort not in sortable:
        sort = default
    direction = request.args.get("dir", default_dir)
    if direction not in ("asc", "desc"):
        direction = default_dir
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, ceil(total / PAGE_SIZE))
    page = min(page_number(request.args.get("page")), pages)
    columns = sortable[sort] if isinstance(sortable[sort], tuple) else (sortable[sort],)
    order = [c.desc() if direction == "desc" else c.asc() for c in columns]
    rows = session.execute(query.order_by(*order).limit(PAGE_SIZE)
                           .offset((page - 1) * PAGE_SIZE)).all()
    return Page(rows, page, pages, total, sort, direction)


def statement_accounts() -> tuple[list[str], str | None]:
    """Our accounts (setting BANK_ACCOUNTS, else the supplier's), and the bank code of the
    supplier's account (GPC carries none): as ``ispzone payments import`` uses them."""
    from billing.invoicing.supplier import Supplier

    own = Supplier.from_config(current_app.config).account or ""
    accounts = [a.strip() for a in (current_app.config["BANK_ACCOUNTS"] or own).split(",")]
    return accounts, (own.rsplit("/", 1)[1] if "/" in own else None)

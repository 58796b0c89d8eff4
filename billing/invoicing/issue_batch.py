"""Issuing many regular invoices at once, set-based (the monthly run, docs/monthly-run.md).

What :func:`billing.invoicing.issue.issue_invoice` does for one invoice, done for a batch
(a chunk of up to a few thousand customers) with a handful of multi-row statements: the
number series is locked once and the batch's numbers are allocated as one block (gapless,
in customer order), then the invoices (INSERT ... RETURNING id), their lines, VAT recaps,
ledger transactions (:func:`billing.ledger.postings.record`), the settlement from the
customers' credit (:func:`billing.bank.pairing.settle`) and one ``invoice.issued`` audit
event per invoice, as issue_invoice writes them. Each invoice's amounts are computed by the
same :func:`billing.invoicing.vat.compute_document`.

Customers who already have the period's regular invoice are skipped, checked after the
series lock is held (every issuer takes it first, so the check sees whatever the others
committed); the unique constraint (customer, period, kind) stays the guarantee. Flushes;
the caller commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing.bank.pairing import settle
from billing.invoicing.issue import DEFAULT_DUE_DAYS, InvoicingError, lock_series
from billing.invoicing.supplier import Supplier, number_format
from billing.invoicing.vat import LineInput, compute_document
from billing.ledger import postings as ledger
from billing.models import Customer, Invoice, InvoiceKind, InvoiceLine, InvoiceVatRecap
from core.audit import AuditEvent
from core.clock import now
from core.db import bulk_insert, is_in, next_serial_ids


@dataclass(frozen=True)
class _Issued:
    """What the ledger posting reads of an invoice (billing.ledger.postings.invoice_posting)."""

    id: int
    customer_id: int
    kind: str
    number: str
    issue_date: date
    total: Decimal
    total_net: Decimal
    total_vat: Decimal


def _insert_rows(session: Session, table, rows: list[dict]) -> None:
    if rows:
        bulk_insert(session, table, rows)  # COPY on PostgreSQL, executemany elsewhere


def issue_regular_batch(
    session: Session,
    customers: list[Customer],
    lines_of: dict[int, list[LineInput]],
    supplier: Supplier,
    *,
    issue_date: date,
    taxable_date: date,
    period_key: str,
    actor: str = "system",
) -> list[int]:
    """Issue the period's regular invoice of each of ``customers`` that has lines
    (``lines_of``: customer id -> lines, prices with VAT) and no such invoice yet. Returns
    the new invoices' ids in customer order."""
    session.flush()
    year_digits, serial_digits = _format(supplier)
    # computed before the series lock: workers issuing other chunks wait only for the writes
    computed = [(c, compute_document(lines_of[c.id], True))
                for c in sorted(customers, key=lambda c: c.id) if lines_of.get(c.id)]
    for customer, doc in computed:
        if doc.total <= 0:
            raise InvoicingError(
                f"customer {customer.customer_number}: an invoice must have a positive total")
    series = lock_series(session, f"invoice-{issue_date.year}")
    ids = [c.id for c in customers]
    already = set(session.scalars(
        select(Invoice.customer_id).where(
            is_in(session, Invoice.customer_id, ids), Invoice.period_key == period_key,
            Invoice.kind == InvoiceKind.REGULAR)))
    todo = [(c, doc) for c, doc in computed if c.id not in already]
    if not todo:
        return []
    first = series.last_value + 1
    if series.last_value + len(todo) >= 10**serial_digits:
        raise InvoicingError(
            f"invoice series {issue_date.year} is full ({10**serial_digits - 1:,} invoices in "
            f"format {supplier.invoice_number_format}); set "
            "SUPPLIER_INVOICE_NUMBER_FORMAT=YYNNNNNNNN for more")
    series.last_value += len(todo)
    session.flush()
    year = f"{issue_date.year % 10**year_digits:0{year_digits}d}"
    moment = now()
    due = issue_date + timedelta(days=DEFAULT_DUE_DAYS)
    rows = []
    for offset, (customer, doc) in enumerate(todo):
        number = f"{year}{first + offset:0{serial_digits}d}"
        contract = customer.contracts[0] if customer.contracts else None
        rows.append({
            "customer_id": customer.id, "contract_id": contract.id if contract else None,
            "number": number, "kind": InvoiceKind.REGULAR.value, "issue_date": issue_date,
            "taxable_date": taxable_date, "due_date": due,
            "variable_symbol": contract.number if contract else customer.customer_number,
            "specific_symbol": number, "currency": "CZK", "total_net": doc.total_net,
            "total_vat": doc.total_vat, "total": doc.total, "corrects_invoice_id": None,
            "period_key": period_key, "note": None, "correction_reason": None,
            "supplier_name": supplier.name, "supplier_address": supplier.address,
            "supplier_ico": supplier.ico, "supplier_dic": supplier.dic,
            "supplier_account": supplier.account, "supplier_iban": supplier.iban,
            "supplier_register": supplier.register, "customer_name": customer.name,
            "customer_address": customer.address, "customer_ico": customer.ico,
            "customer_dic": customer.dic, "created_at": moment,
        })
    table = Invoice.__table__
    if session.get_bind().dialect.name == "postgresql":
        # ids from the sequence, then one COPY (a multi-row INSERT of a thousand invoices
        # costs more to build and send than to run)
        invoice_ids = next_serial_ids(session, "invoice", len(rows))
        for invoice_id, row in zip(invoice_ids, rows, strict=True):
            row["id"] = invoice_id
        bulk_insert(session, table, rows)
    else:
        invoice_ids = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars().all()

    line_rows, recap_rows, audit_rows, issued = [], [], [], []
    for invoice_id, row, (customer, doc) in zip(invoice_ids, rows, todo, strict=True):
        for position, cl in enumerate(doc.lines, start=1):
            line_rows.append({
                "invoice_id": invoice_id, "position": position, "description": cl.line.description,
                "quantity": Decimal(cl.line.quantity), "unit": cl.line.unit,
                "unit_price": Decimal(cl.line.unit_price), "prices_include_vat": True,
                "vat_rate": Decimal(cl.line.vat_rate), "net": cl.net, "vat": cl.vat,
                "gross": cl.gross, "service_id": cl.line.service_id,
                "corrects_line_id": cl.line.corrects_line_id,
            })
        for split in doc.recap:
            recap_rows.append({"invoice_id": invoice_id, "rate": split.rate, "base": split.base,
                               "vat": split.vat, "total": split.total})
        issued.append(_Issued(invoice_id, customer.id, InvoiceKind.REGULAR.value, row["number"],
                              issue_date, doc.total, doc.total_net, doc.total_vat))
        audit_rows.append({
            "at": moment, "actor": actor, "customer_id": customer.id, "action": "invoice.issued",
            "field": None, "old_value": None, "new_value": row["number"], "ip": None,
            "details": json.dumps({"kind": "regular", "total": str(doc.total)}),
        })
    _insert_rows(session, InvoiceLine.__table__, line_rows)
    _insert_rows(session, InvoiceVatRecap.__table__, recap_rows)
    ledger.record(session, [ledger.invoice_posting(inv, actor) for inv in issued])
    settle(session, [inv.customer_id for inv in issued], {}, actor=actor)
    _insert_rows(session, AuditEvent.__table__, audit_rows)
    return list(invoice_ids)


def _format(supplier: Supplier) -> tuple[int, int]:
    try:
        return number_format(supplier.invoice_number_format)
    except ValueError as exc:
        raise InvoicingError(str(exc)) from None

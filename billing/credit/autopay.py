"""The daily auto-pay (docs/credit.md, "Automatic payment"): every open payment request
of a customer whose credit account pays automatically is paid from the credit once it is
``autopay_days`` old, unless the customer ticked "Nestrhávat automaticky" on it. Oldest
first, all or nothing per request, in the order the customer's requests came: the first
request the credit cannot cover stops that customer's run (nothing deducted for it; the
customer is told on the request's auto-pay day).

Set-based: a fixed number of statements whatever the number of customers (the rows are
written with one insert per table; PostgreSQL's COPY for big batches)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, select, text, type_coerce
from sqlalchemy.orm import Session, aliased

from billing.credit.mail import queue_many
from billing.credit.payments import PAYABLE_KINDS, credit_amount_for, payment_legs
from billing.ledger import postings
from billing.models import AccountKind, Allocation, AuditEvent, Invoice, LedgerAccount, LedgerLeg
from billing.models import TransactionKind as TK
from billing.models.credit import CreditAccount, CreditHold, CreditPayment, CreditTopUp
from core import events
from core.clock import now
from core.db import Money, bulk_insert, is_in, next_serial_ids

ZERO = Decimal("0.00")


def _held():
    """SQL: the request's latest "Nestrhávat" tick is on."""
    later = aliased(CreditHold)
    return exists().where(
        CreditHold.invoice_id == Invoice.id, CreditHold.hold.is_(True),
        ~exists().where(later.invoice_id == CreditHold.invoice_id, later.id > CreditHold.id),
    )


def _candidates(on: date, days: int, customer_ids=None, session=None):
    paid = (
        select(type_coerce(func.coalesce(func.sum(Allocation.amount), 0), Money()))
        .where(Allocation.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery()
    )
    query = (
        select(Invoice.id, Invoice.customer_id, Invoice.kind, Invoice.number, Invoice.issue_date,
               Invoice.due_date, Invoice.total, Invoice.total_net, Invoice.currency,
               paid.label("paid"), CreditAccount.id.label("account_id"))
        .join(CreditAccount, and_(CreditAccount.customer_id == Invoice.customer_id,
                                  CreditAccount.currency == Invoice.currency))
        .where(
            CreditAccount.closed_at.is_(None), CreditAccount.auto_pay.is_(True),
            Invoice.kind.in_([str(k) for k in PAYABLE_KINDS]),
            Invoice.issue_date <= on - timedelta(days=days),
            Invoice.total > paid,
            ~exists().where(CreditTopUp.invoice_id == Invoice.id),
            ~exists().where(CreditPayment.invoice_id == Invoice.id),
            ~_held(),
        )
        .order_by(Invoice.customer_id, Invoice.issue_date, Invoice.id)
    )
    if customer_ids is not None:
        query = query.where(is_in(session, Invoice.customer_id, customer_ids))
    return query


def _balances(session: Session, customer_ids) -> dict[int, Decimal]:
    rows = session.execute(
        select(LedgerAccount.customer_id, type_coerce(-func.sum(LedgerLeg.amount), Money()))
        .join(LedgerLeg, LedgerLeg.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == str(AccountKind.CREDIT),
               is_in(session, LedgerAccount.customer_id, customer_ids))
        .group_by(LedgerAccount.customer_id)
    )
    return dict(rows.all())


def _new_ids(session: Session, table: str, n: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        return next_serial_ids(session, table, n)
    last = session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}"))
    return list(range(last + 1, last + 1 + n))


def run_autopay(session: Session, on: date, *, days: int, actor: str) -> dict:
    """Pay the due requests from credit (see the module). Returns counts."""
    session.flush()
    due = _candidates(on, days).subquery()
    first = session.scalars(select(due.c.customer_id).distinct()).all()
    if not first:
        return {"paid": 0, "short": 0, "customers": 0}
    customer_ids = sorted(first)
    # take turns with pay_from_credit and the settlers (bank payments) of these customers
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(CreditAccount.id).where(is_in(session, CreditAccount.customer_id, customer_ids))
            .order_by(CreditAccount.id).with_for_update())
        from billing.bank.pairing_pg import lock_customers

        lock_customers(session, customer_ids)
    rows = session.execute(_candidates(on, days, customer_ids, session)).all()
    balances = _balances(session, customer_ids)
    payments, shorts, stopped = [], [], set()
    left = defaultdict(lambda: ZERO, balances)
    for row in rows:
        if row.customer_id in stopped:
            continue
        open_amount = row.total - Decimal(row.paid)
        take = credit_amount_for(row.total, row.total_net, open_amount)
        if take <= left[row.customer_id]:
            left[row.customer_id] -= take
            payments.append((row, open_amount, take))
        else:
            stopped.add(row.customer_id)
            if row.issue_date == on - timedelta(days=days):
                # the credit as it is now, after what this run took for earlier requests
                shorts.append((row, take, left[row.customer_id]))
    moment = now()
    if payments:
        pay_ids = _new_ids(session, "credit_payment", len(payments))
        alloc_ids = _new_ids(session, "allocation", len(payments))
        bulk_insert(session, CreditPayment.__table__, [
            {"id": pid, "account_id": row.account_id, "invoice_id": row.id, "amount": amount,
             "credit_amount": take, "paid_on": on, "actor": actor, "created_at": moment}
            for pid, (row, amount, take) in zip(pay_ids, payments, strict=True)
        ])
        bulk_insert(session, Allocation.__table__, [
            {"id": aid, "invoice_id": row.id, "bank_transaction_id": None, "credit_note_id": None,
             "credit_payment_id": pid, "amount": amount, "created_at": moment}
            for aid, pid, (row, amount, _take) in zip(alloc_ids, pay_ids, payments, strict=True)
        ])
        postings.record(session, [
            postings.Posting(
                TK.CREDIT_PAYMENT, payment_legs(row.customer_id, row.kind, amount, take),
                booked_on=on, actor=actor, description=f"Úhrada z kreditu: {row.number}",
                customer_id=row.customer_id, invoice_id=row.id, allocation_id=aid,
                reference=f"credit_payment:{pid}",
            )
            for aid, pid, (row, amount, take) in zip(alloc_ids, pay_ids, payments, strict=True)
        ])
        bulk_insert(session, AuditEvent.__table__, [
            {"at": moment, "actor": actor, "customer_id": row.customer_id, "action": "credit.paid",
             "field": None, "old_value": None, "new_value": row.number, "ip": None,
             "details": f'{{"amount": "{amount}", "credit_amount": "{take}", "auto": true}}'}
            for row, amount, take in payments
        ])
    told = 0
    if shorts:
        told = queue_many(session, [
            (row.customer_id, "credit_short",
             {"invoice": row.number, "invoice_id": row.id, "needed": str(take),
              "balance": str(balance), "currency": row.currency, "total": str(row.total)})
            for row, take, balance in shorts
        ], refs=[f"invoice:{row.id}" for row, _take, _balance in shorts])
    # enforcement reconnects a customer whose overdue debt is gone: only those who had any
    for customer_id in sorted({row.customer_id for row, _a, _t in payments if row.due_date < on}):
        events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return {"paid": len(payments), "short": len(shorts), "told": told,
            "customers": len(customer_ids),
            "amount": str(sum((a for _r, a, _t in payments), ZERO))}


def daily_step(session: Session, ctx) -> dict:
    return run_autopay(session, ctx.on, days=ctx.settings.autopay_days, actor=ctx.actor)


def autopay_date(issue_date: date, days: int) -> date:
    """The day a request issued on ``issue_date`` is paid from credit."""
    return issue_date + timedelta(days=days)


__all__ = ["autopay_date", "daily_step", "run_autopay"]

"""Pairing bank payments with invoices.

Rules: a specific symbol equal to an invoice's SS pays that invoice; otherwise a variable
symbol equal to a contract (or customer) number pays that customer's open invoices, oldest
first. Whatever is left becomes the customer's credit, which settles the next invoices as
soon as they are issued. What cannot be paired waits in the unmatched queue for an operator.
Outgoing movements are recorded, never paired.

Functions flush; the caller commits.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import audit, events, ledger
from billing.accounts import ZERO, open_invoices
from billing.clock import today
from billing.db import money_sum
from billing.models import Allocation, BankTransaction, Contract, Customer, Invoice

MATCHED, UNMATCHED, OUTGOING = "matched", "unmatched", "outgoing"


class PairingError(ValueError):
    pass


def allocated(session: Session, tx: BankTransaction) -> Decimal:
    return session.scalar(
        select(money_sum(Allocation.amount)).where(Allocation.bank_transaction_id == tx.id)
    )


def find_customer(session: Session, tx: BankTransaction) -> tuple[Customer | None, Invoice | None]:
    """Who a payment belongs to: by SS (an invoice), else by VS (contract, then customer)."""
    if tx.specific_symbol:
        invoice = session.scalar(
            select(Invoice).where(
                Invoice.specific_symbol == tx.specific_symbol, Invoice.kind != "credit_note"
            )
        )
        if invoice is not None:
            return session.get(Customer, invoice.customer_id), invoice
    if tx.variable_symbol:
        contract = session.scalar(select(Contract).where(Contract.number == tx.variable_symbol))
        if contract is not None:
            return session.get(Customer, contract.customer_id), None
        customer = session.scalar(
            select(Customer).where(Customer.customer_number == tx.variable_symbol)
        )
        if customer is not None:
            return customer, None
    return None, None


def pair(session: Session, tx: BankTransaction, actor: str = "system") -> str:
    """Pair a newly stored movement. Returns its status: matched, unmatched or outgoing."""
    if tx.amount <= 0:
        tx.status = OUTGOING
        return tx.status
    customer, invoice = find_customer(session, tx)
    if customer is None:
        tx.status = UNMATCHED
        return tx.status
    _credit_customer(session, tx, customer, invoice, actor)
    return tx.status


def assign(session: Session, tx: BankTransaction, customer: Customer, actor: str) -> None:
    """Pair an unmatched movement by hand (audited)."""
    if tx.status != UNMATCHED:
        raise PairingError(f"transaction {tx.id} is {tx.status}, not unmatched")
    _credit_customer(session, tx, customer, None, actor)
    audit.record(
        session,
        "payment.assigned",
        actor=actor,
        customer_id=customer.id,
        new_value=str(tx.id),
        details={"amount": str(tx.amount), "vs": tx.variable_symbol, "ss": tx.specific_symbol},
    )


def _credit_customer(
    session: Session, tx: BankTransaction, customer: Customer, invoice: Invoice | None, actor: str
) -> None:
    tx.status = MATCHED
    tx.customer_id = customer.id
    session.flush()
    ledger.post(
        session,
        customer.id,
        "payment",
        tx.amount,
        booked_on=tx.booked_on,
        bank_transaction_id=tx.id,
        description=f"Platba VS {tx.variable_symbol or '-'} SS {tx.specific_symbol or '-'}",
    )
    if invoice is not None:
        _allocate(session, tx, invoice, tx.amount)
    apply_credit(session, customer.id)
    audit.record(
        session,
        "payment.matched",
        actor=actor,
        customer_id=customer.id,
        new_value=str(tx.amount),
        details={"tx": tx.id, "invoice": invoice.number if invoice else None},
    )
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer.id)


def _allocate(session: Session, tx: BankTransaction, invoice: Invoice, most: Decimal) -> Decimal:
    """Apply up to ``most`` of ``tx`` to ``invoice``; returns the amount applied."""
    paid = session.scalar(
        select(money_sum(Allocation.amount)).where(Allocation.invoice_id == invoice.id)
    )
    amount = min(most, invoice.total - paid, tx.amount - allocated(session, tx))
    if amount <= 0:
        return ZERO
    session.add(Allocation(invoice_id=invoice.id, bank_transaction_id=tx.id, amount=amount))
    session.flush()
    return amount


def unallocated_payments(session: Session, customer_id: int) -> list[tuple[BankTransaction, Decimal]]:
    """The customer's paired payments with money not yet applied, oldest first."""
    used = (
        select(Allocation.bank_transaction_id, money_sum(Allocation.amount).label("used"))
        .group_by(Allocation.bank_transaction_id)
        .subquery()
    )
    rows = session.execute(
        select(BankTransaction, used.c.used)
        .outerjoin(used, used.c.bank_transaction_id == BankTransaction.id)
        .where(BankTransaction.customer_id == customer_id, BankTransaction.status == MATCHED)
        .order_by(BankTransaction.booked_on, BankTransaction.id)
    ).all()
    result = []
    for tx, used_amount in rows:
        left = tx.amount - (Decimal(used_amount) if used_amount is not None else ZERO)
        if left > 0:
            result.append((tx, left))
    return result


def apply_credit(session: Session, customer_id: int) -> Decimal:
    """Settle open invoices (oldest first) from unapplied payments (oldest first).

    Returns the amount applied. Called after a payment is paired and after an invoice is issued.
    """
    payments = unallocated_payments(session, customer_id)
    if not payments:
        return ZERO
    applied = ZERO
    pending = [[tx, left] for tx, left in payments]
    for state in open_invoices(session, customer_id, today()):
        need = state.open_amount
        for item in pending:
            if need <= 0:
                break
            tx, left = item
            if left <= 0:
                continue
            amount = min(need, left)
            session.add(Allocation(invoice_id=state.invoice.id, bank_transaction_id=tx.id, amount=amount))
            item[1] = left - amount
            need -= amount
            applied += amount
        if all(left <= 0 for _, left in pending):
            break
    session.flush()
    return applied


def credit_available(session: Session, customer_id: int) -> Decimal:
    return sum((left for _, left in unallocated_payments(session, customer_id)), ZERO)


def unmatched(session: Session) -> list[BankTransaction]:
    return list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.status == UNMATCHED)
            .order_by(BankTransaction.booked_on, BankTransaction.id)
        )
    )

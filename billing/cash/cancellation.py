"""Cancelling a cash receipt recorded by mistake (storno příjmového pokladního dokladu).

:func:`cancel_cash_receipt` issues the cancelling document (its own series ``SPD`` + year + 6
digits, naming the receipt it cancels, with the reason and the operator) and undoes the cash
payment the way ``payments unassign`` undoes a bank payment (billing/bank/queue.py), except
that the money does not wait in a queue: it was never taken.

1. refused first, nothing written: no reason; a receipt already cancelled (also by the
   database: one cancellation per receipt); a payment whose tax document for a received
   advance (billing.invoicing.receipts) was deducted in a final invoice or booked to a prepaid
   credit account (billing.invoicing.receipt_corrections.refusal);
2. each tax document for a received advance issued for the payment (never deleted) gets its
   corrective tax document (billing.invoicing.receipt_corrections: the amounts per rate
   negated, the reason, the day of the cancellation, the operator), in the same transaction;
3. the allocations the payment made (the invoices it paid, first at the till and later from
   the credit it left) are removed: those invoices are open again;
4. the ledger: one reversing transaction (``reversal``, ``reverses_id`` = the payment's
   posting): receivable ``+reopened``, prepaid credit ``+(amount - reopened)``, cash
   ``-amount``. The receipt, its payment posting and its allocations' postings stay as they
   were (append-only); the till's balance is back to what it was;
5. the movement on the till's pseudo-account gets the status ``cancelled``: settlement never
   applies it again, the zone's payment history no longer lists it;
6. the customer's other credit settles their open invoices again (as after an unassignment);
7. audit ``payment.cash_cancelled`` (and ``receipt.corrected`` per corrective document) with the operator and the reason;
   ``OVERDUE_DEBT_CHANGED`` is emitted as after an unassignment: a reopened invoice past its
   due date is overdue debt again, which the enforcement sweep chases from its next run
   (the event itself only ever reconnects).

Functions flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bank.pairing import MATCHED, settle
from billing.bank.pairing_pg import lock_customers
from billing.bank.queue import payment_allocations, uncorrected_receipts, unreversed_payments
from billing.cash.payments import _kc
from billing.invoicing import receipt_corrections
from billing.invoicing.issue import lock_series
from billing.ledger import postings as ledger
from billing.ledger.balances import ZERO
from billing.models import (
    BankTransaction,
    BankTransactionStatus,
    CashReceipt,
    CashReceiptCancellation,
    TaxReceiptCorrection,
)
from core import audit, events
from core.clock import today
from core.errors import Conflict, Invalid
from core.i18n import _l

PREFIX = "SPD"
SERIAL_DIGITS = 6
CANCELLED = BankTransactionStatus.CANCELLED


class CancellationError(Conflict, ValueError):
    """A cash receipt that cannot be cancelled as asked."""


class CancellationInputError(Invalid, ValueError):
    """A cancellation asked for without what it needs."""


@dataclass(frozen=True)
class Cancelled:
    cancellation: CashReceiptCancellation
    reopened: list[tuple[str, Decimal]]  # (invoice number, what the receipt had paid of it)
    reapplied: Decimal  # the customer's other credit that settled open invoices afterwards
    corrections: list[TaxReceiptCorrection] = field(default_factory=list)


def cancellation_of(session: Session, receipt_id: int) -> CashReceiptCancellation | None:
    return session.scalar(select(CashReceiptCancellation)
                          .where(CashReceiptCancellation.receipt_id == receipt_id))


def cancel_cash_receipt(session: Session, receipt: CashReceipt, reason: str, *,
                        actor: str) -> Cancelled:
    """Cancel ``receipt`` (see the module's docstring)."""
    reason = (reason or "").strip()
    if not reason:
        raise CancellationInputError(
            _l("give the reason for cancelling the cash receipt (it is printed on the "
               "cancelling document)"), field="reason")
    tx = session.get(BankTransaction, receipt.bank_transaction_id)
    # the movement's row first: two operators cancelling one receipt queue here
    session.refresh(tx, with_for_update={"key_share": True})
    done = cancellation_of(session, receipt.id)
    if done is not None or tx.status == CANCELLED:
        raise CancellationError(_l(
            "cash receipt %(receipt)s is already cancelled (by %(number)s); nothing was "
            "changed", receipt=receipt.number, number=done.number if done else "?"))
    if tx.status != MATCHED:  # pragma: no cover - a cash movement is matched from the start
        raise CancellationError(_l("cash receipt %(receipt)s cannot be cancelled: its payment "
                                   "is %(status)s", receipt=receipt.number, status=tx.status))
    customer_id = receipt.customer_id
    if session.get_bind().dialect.name == "postgresql":
        lock_customers(session, [customer_id])  # the settlers' lock, as unassign takes it
    allocations = payment_allocations(session, tx)
    tax_receipts = uncorrected_receipts(session, tx)
    why = receipt_corrections.refusal(session, tax_receipts)
    if why is not None:
        raise CancellationError(_l(
            "cash receipt %(receipt)s cannot be cancelled: %(why)s; nothing was changed",
            receipt=receipt.number, why=why))
    payment = unreversed_payments(session, tx, customer_id)
    if len(payment) != 1 or payment[0].amount != tx.amount:  # pragma: no cover - a broken ledger
        raise CancellationError(_l(
            "cash receipt %(receipt)s: the ledger does not hold its payment as expected; "
            "nothing was changed", receipt=receipt.number))
    reopened: dict[str, Decimal] = {}
    for allocation, number in allocations:
        reopened[number] = reopened.get(number, ZERO) + allocation.amount
        session.delete(allocation)
    on = today()
    number = _next_number(session, on.year)
    tx.status = CANCELLED.value
    session.flush()
    ledger.post_cash_cancellation(
        session, tx, customer_id, sum(reopened.values(), ZERO), reverses_id=payment[0].id,
        number=number, actor=actor)
    session.expire(tx, ["allocations"])
    cancellation = CashReceiptCancellation(
        number=number, receipt_id=receipt.id, customer_id=customer_id, amount=receipt.amount,
        currency=receipt.currency, cancelled_on=on, cancelled_by=actor, reason=reason,
        reopened=reopened_text(list(reopened.items())),
    )
    session.add(cancellation)
    session.flush()
    corrections = receipt_corrections.correct_receipts(
        session, tax_receipts, reason, on=on, actor=actor, cash_cancellation_id=cancellation.id)
    reapplied = settle(session, [customer_id], {}, actor=actor)
    audit.record(
        session, "payment.cash_cancelled", actor=actor, customer_id=customer_id,
        old_value=receipt.number, new_value=number,
        details={"receipt": receipt.number, "amount": str(receipt.amount),
                 "invoices": [[n, str(a)] for n, a in reopened.items()],
                 "reapplied": str(reapplied), "reason": reason,
                 "corrections": [[c.number, c.receipt.number] for c in corrections]},
    )
    session.flush()
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return Cancelled(cancellation, list(reopened.items()), reapplied, corrections)


def reopened_text(reopened: list[tuple[str, Decimal]]) -> str:
    """What the cancelled receipt had paid and is owed again (Czech, as printed)."""
    return "; ".join(f"faktura {n}: {_kc(a)}" for n, a in reopened)


def _next_number(session: Session, year: int) -> str:
    series = lock_series(session, f"cash-storno-{year}")
    if series.last_value + 1 >= 10**SERIAL_DIGITS:
        raise CancellationError(_l("the cancelling documents' series of %(year)s is full",
                                   year=year))
    series.last_value += 1
    session.flush()
    return f"{PREFIX}{year}{series.last_value:0{SERIAL_DIGITS}d}"


__all__ = [
    "CancellationError",
    "CancellationInputError",
    "Cancelled",
    "cancel_cash_receipt",
    "cancellation_of",
    "reopened_text",
]

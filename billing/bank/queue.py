"""The operator's side of pairing: the unmatched queue and corrections by hand.

* :func:`unmatched`: incoming payments that pairing could not place (unknown symbols, another
  currency than CZK), oldest first.
* :func:`assign`: pair one of them with a customer.
* undoing a pairing (``payments unassign``) is billing.unpairing.unassign, as it issues
  corrective tax documents (billing.invoicing); the helpers it shares with the cash receipt's
  cancellation (billing.cash.cancellation) are here: :func:`payment_allocations`,
  :func:`uncorrected_receipts`, :func:`unreversed_payments`.
* :func:`dismiss` / :func:`restore`: take a movement that is no customer's payment out of the
  queue (returned to the payer, reversed by the bank, a EUR payment booked elsewhere), and
  put it back.

Every one of them is audited with its actor (and the reason, where one is asked for).
Functions flush; the caller commits.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from billing.bank.pairing import (
    MATCHED,
    PAIRED_CURRENCY,
    UNMATCHED,
    PairingError,
    book_payments,
    settle,
)
from billing.models import (
    Allocation,
    BankTransaction,
    BankTransactionStatus,
    Customer,
    Invoice,
    LedgerEntry,
    TaxReceipt,
)
from core import audit, events
from core.i18n import _l

# a movement an operator took out of the unmatched queue: it is no customer's payment
DISMISSED = BankTransactionStatus.DISMISSED

__all__ = [
    "DISMISSED",
    "PairingError",
    "assign",
    "dismiss",
    "payment_allocations",
    "restore",
    "status_name",
    "uncorrected_receipts",
    "unmatched",
    "unreversed_payments",
]


def status_name(status: str):
    """A payment's state for a refusal: translated with it (core.i18n: a parameter that is
    itself a message), the stored value as it is when unknown."""
    return _STATUS_NAMES.get(str(status), str(status))


_STATUS_NAMES = {
    "matched": _l("matched"),
    "unmatched": _l("unmatched"),
    "outgoing": _l("outgoing"),
    "dismissed": _l("dismissed"),
    "cancelled": _l("cancelled (storno)"),
}


def unmatched(session: Session, dismissed: bool = False) -> list[BankTransaction]:
    """The queue (or, with ``dismissed``, what operators took out of it), oldest first."""
    return list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.status == (DISMISSED if dismissed else UNMATCHED))
            .order_by(BankTransaction.booked_on, BankTransaction.id)
        )
    )


def assign(session: Session, tx: BankTransaction, customer: Customer, actor: str, *,
           not_a_duplicate: bool = False) -> None:
    """Pair an unmatched movement by hand (audited). A movement the importer held as a
    suspected duplicate of another (``duplicate_of``) is refused unless the operator says it
    is ``not_a_duplicate`` (then the suspicion is cleared, and the audit says so)."""
    if tx.status != UNMATCHED:
        raise PairingError(_l("transaction %(id)s is %(status)s, not unmatched", id=tx.id,
                              status=status_name(tx.status)))
    suspected = tx.duplicate_of
    if suspected is not None and not not_a_duplicate:
        raise PairingError(_l(
            "transaction %(id)s looks like transaction %(other)s from another statement "
            "(the same payment imported twice?): dismiss it, or, when it is a payment of its "
            "own, assign it with --not-a-duplicate", id=tx.id, other=suspected))
    if tx.currency != PAIRED_CURRENCY:
        raise PairingError(_l(
            "transaction %(id)s is in %(currency)s; invoices are paid in %(paid)s at face "
            "value; once it is handled by hand, take it out of the queue: payments dismiss",
            id=tx.id, currency=tx.currency, paid=PAIRED_CURRENCY))
    tx.status, tx.customer_id, tx.duplicate_of = MATCHED, customer.id, None
    session.flush()
    book_payments(session, [(tx, customer.id)], actor)
    settle(session, {customer.id}, {}, actor=actor)
    details = {"amount": str(tx.amount), "vs": tx.variable_symbol, "ss": tx.specific_symbol}
    if suspected is not None:
        details["not_a_duplicate_of"] = str(suspected)
    audit.record(
        session,
        "payment.assigned",
        actor=actor,
        customer_id=customer.id,
        new_value=str(tx.id),
        details=details,
    )
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer.id)


def payment_allocations(session: Session, tx: BankTransaction) -> list:
    """``[(allocation, invoice number), ...]`` of the payment ``tx``, oldest first, locked
    (a tax document being issued for one waits, or we do): what undoing it reopens."""
    return session.execute(
        select(Allocation, Invoice.number)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.bank_transaction_id == tx.id)
        .order_by(Allocation.id)
        .with_for_update(of=Allocation)
    ).all()


def uncorrected_receipts(session: Session, tx: BankTransaction) -> list[TaxReceipt]:
    """The tax documents for a received advance issued for the payment ``tx`` that no
    corrective document reverses yet, oldest first."""
    return list(session.scalars(
        select(TaxReceipt)
        .join(Allocation, (Allocation.id == TaxReceipt.allocation_id)
              & (Allocation.invoice_id == TaxReceipt.advance_invoice_id))
        .where(Allocation.bank_transaction_id == tx.id, ~TaxReceipt.correction.has())
        .order_by(TaxReceipt.id)))


def unreversed_payments(session: Session, tx: BankTransaction, customer_id: int) -> list:
    """The customer's ``payment`` ledger entries of ``tx`` that no reversal undid yet (one,
    of ``tx.amount``, for a payment that can be undone)."""
    reversal = aliased(LedgerEntry)
    return list(session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.bank_transaction_id == tx.id,
            LedgerEntry.customer_id == customer_id,
            LedgerEntry.kind == "payment",
            ~exists().where(reversal.reverses_id == LedgerEntry.id),
        )
    ))


def reason_given(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise PairingError(_l("give a reason for %(what)s (it goes to the audit log)",
                              what=what))
    return reason


def dismiss(session: Session, tx: BankTransaction, actor: str, reason: str) -> None:
    """Take an unmatched movement out of the queue: it is no customer's payment (returned
    to the payer, reversed by the bank, a payment in another currency booked by hand).
    Nothing is booked; :func:`restore` puts it back."""
    reason = reason_given(reason, _l("dismissing a payment"))
    session.refresh(tx, with_for_update={"key_share": True})  # one operator at a time
    if tx.status != UNMATCHED:
        raise PairingError(_l(
            "transaction %(id)s is %(status)s, not unmatched: only a payment waiting in the "
            "queue can be dismissed (unpair a matched one first: payments unassign)",
            id=tx.id, status=status_name(tx.status)))
    tx.status = DISMISSED
    audit.record(
        session, "payment.dismissed", actor=actor, old_value=str(tx.id),
        details={"tx": tx.id, "amount": str(tx.amount), "currency": tx.currency,
                 "vs": tx.variable_symbol, "ss": tx.specific_symbol, "reason": reason},
    )
    session.flush()


def restore(session: Session, tx: BankTransaction, actor: str) -> None:
    """Put a dismissed movement back in the unmatched queue (audited)."""
    session.refresh(tx, with_for_update={"key_share": True})
    if tx.status != DISMISSED:
        raise PairingError(_l("transaction %(id)s is %(status)s, not dismissed", id=tx.id,
                              status=status_name(tx.status)))
    tx.status = UNMATCHED
    audit.record(session, "payment.restored", actor=actor, new_value=str(tx.id),
                 details={"tx": tx.id, "amount": str(tx.amount), "currency": tx.currency})
    session.flush()

"""Undoing the pairing of a bank payment (``payments unassign``): a payment put on the wrong
customer, by hand or by a mistyped variable symbol, or one the bank reversed.

:func:`unassign` reverses its ledger payment (with what it had settled), removes its
allocations (the invoices it paid are open again), gives each tax document for a received
payment issued for it on an advance (billing.invoicing.receipts, never deleted) a corrective
tax document (billing.invoicing.receipt_corrections) and puts the movement back in the
unmatched queue (billing.bank.queue), all in one unit of work; assigning it again issues a new
tax document. Its own module, beside billing.cash.cancellation (the cash receipt's storno,
which shares its helpers), because it needs both billing.bank and billing.invoicing, and
billing.invoicing already depends on billing.bank (settlement).

Functions flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bank.pairing import MATCHED, UNMATCHED, PairingError, settle
from billing.bank.pairing_pg import lock_customers
from billing.bank.queue import (
    payment_allocations,
    reason_given,
    status_name,
    uncorrected_receipts,
    unreversed_payments,
)
from billing.invoicing import receipt_corrections
from billing.ledger import postings as ledger
from billing.ledger.balances import ZERO
from billing.models import CASH_ACCOUNT, BankTransaction, Customer
from core import audit, events
from core.clock import today
from core.i18n import _l

__all__ = ["Unassigned", "unassign"]


@dataclass(frozen=True)
class Unassigned:
    """What :func:`unassign` undid."""

    tx_id: int
    amount: Decimal
    customer_id: int
    customer_number: str
    reopened: list[tuple[str, Decimal]]  # (invoice number, what the payment had paid of it)
    reapplied: Decimal  # the customer's other credit that settled open invoices afterwards
    # (corrective document number, the tax document it corrects) issued by the unpairing
    corrections: list[tuple[str, str]] = field(default_factory=list)


def unassign(session: Session, tx: BankTransaction, actor: str, reason: str) -> Unassigned:
    """Undo the pairing of a matched payment (audited), as if it had never been paired.

    Its ledger payment is reversed by a new transaction (the ledger is append-only), with
    what it had settled; its allocations are removed (the invoices it paid are open again),
    the movement goes back to the
    unmatched queue with no customer, and the customer's remaining credit settles their open
    invoices again. Each tax document for a received payment (billing.invoicing.receipts)
    issued for it, never deleted, gets a corrective tax document dated today, in the same
    transaction (billing.invoicing.receipt_corrections); assigning the payment again issues
    a new one. Refused (nothing changed) for anything but a matched payment, and where such
    a tax document was deducted in a final invoice or booked to a prepaid credit account.
    """
    reason = reason_given(reason, _l("unpairing a payment"))
    if tx.source_account == CASH_ACCOUNT:  # billing/cash/payments.py: a receipt was handed over
        raise PairingError(_l(
            "transaction %(id)s is a cash payment (receipt %(receipt)s), not a bank payment: "
            "it cannot be unpaired; cancel its receipt instead (payments cash-cancel)",
            id=tx.id, receipt=tx.bank_tx_id))
    # The movement's row first, as pairing updates it before settling: two operators undoing
    # one payment at once queue here, and the second one sees it unmatched.
    session.refresh(tx, with_for_update={"key_share": True})
    if tx.status != MATCHED:
        raise PairingError(_l(
            "transaction %(id)s is %(status)s, not matched: only a paired incoming payment "
            "can be unpaired", id=tx.id, status=status_name(tx.status)))
    customer_id = tx.customer_id
    if session.get_bind().dialect.name == "postgresql":
        # the settlers' lock (billing.bank.pairing_pg), before the allocations change: a
        # settlement of this customer (an import, an assign, an invoice being issued) runs
        # wholly before this unpairing or after it commits, never on half of it
        lock_customers(session, [customer_id])
    allocations = payment_allocations(session, tx)
    receipts = uncorrected_receipts(session, tx)
    # a corrective document reverses each tax document issued for it, unless that would not
    # be the whole story (billing.invoicing.receipt_corrections.refusal)
    why = receipt_corrections.refusal(session, receipts)
    if why is not None:
        raise PairingError(_l("transaction %(id)s cannot be unpaired: %(why)s; nothing was "
                              "changed", id=tx.id, why=why))
    entries = unreversed_payments(session, tx, customer_id)
    if len(entries) != 1 or entries[0].amount != tx.amount:
        raise PairingError(
            f"transaction {tx.id}: the ledger has {len(entries)} unreversed payment entries of "
            f"customer {customer_id} for it, expected one of {tx.amount}; nothing was changed"
        )
    customer_number = session.scalar(
        select(Customer.customer_number).where(Customer.id == customer_id)
    )
    reopened: dict[str, Decimal] = {}
    for allocation, number in allocations:
        reopened[number] = reopened.get(number, ZERO) + allocation.amount
        session.delete(allocation)
    tx.status, tx.customer_id = UNMATCHED, None
    ledger.post_unpairing(
        session, tx, customer_id, sum(reopened.values(), ZERO), reverses_id=entries[0].id,
        actor=actor,
        description=f"Zrušení párování platby VS {tx.variable_symbol or '-'} SS {tx.specific_symbol or '-'}",
    )
    session.expire(tx, ["allocations"])
    corrections = receipt_corrections.correct_receipts(
        session, receipts, reason, on=today(), actor=actor, bank_transaction_id=tx.id)
    reapplied = settle(session, [customer_id], {}, actor=actor)
    audit.record(
        session,
        "payment.unassigned",
        actor=actor,
        customer_id=customer_id,
        old_value=str(tx.id),
        details={
            "tx": tx.id,
            "amount": str(tx.amount),
            "vs": tx.variable_symbol,
            "ss": tx.specific_symbol,
            "invoices": [{"invoice": n, "amount": str(a)} for n, a in reopened.items()],
            "reapplied": str(reapplied),
            "reason": reason,
            "corrections": [[c.number, c.receipt.number] for c in corrections],
        },
    )
    session.flush()
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return Unassigned(tx.id, tx.amount, customer_id, customer_number,
                      list(reopened.items()), reapplied,
                      [(c.number, c.receipt.number) for c in corrections])

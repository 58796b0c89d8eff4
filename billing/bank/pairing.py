"""Pairing bank payments with invoices.

Rules: a specific symbol equal to an invoice's SS pays that invoice; otherwise a variable
symbol equal to a contract (or customer) number pays that customer's open invoices, oldest
first. Whatever is left becomes the customer's credit, which settles the next invoices as
soon as they are issued. What cannot be paired waits in the unmatched queue for an operator,
and so does a payment in another currency than our invoices'. Outgoing movements are
recorded, never paired.

The operator's side (the unmatched queue, pairing by hand, undoing a pairing, dismissing a
movement that is not a customer's payment) is :mod:`billing.bank.queue`.

Pairing works on batches (a whole statement costs a handful of queries per few thousand
movements); pairing one movement is a batch of one. Functions flush; the caller commits.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing.bank.pairing_pg import pair_staged_batch, settle_given, stage_batch
from billing.ledger import postings
from billing.ledger.balances import ZERO
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    BankTransactionStatus,
    Contract,
    CreditReturn,
    Customer,
    Invoice,
)
from core import events
from core.clock import now
from core.db import bulk_insert, bulk_update, is_in, money_sum
from core.errors import Conflict

# bank_transaction.status (billing.models.BankTransactionStatus)
MATCHED, UNMATCHED, OUTGOING = (
    BankTransactionStatus.MATCHED, BankTransactionStatus.UNMATCHED, BankTransactionStatus.OUTGOING
)
# The currency of our invoices: only payments in it are paired. A movement in another
# currency (a EUR account listed in BANK_ACCOUNTS) waits in the unmatched queue; paying CZK
# invoices with its face value would be wrong by the exchange rate.
PAIRED_CURRENCY = "CZK"
CHUNK = 5000


class PairingError(Conflict, ValueError):
    pass


def _chunks(items: Sequence, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def pair(session: Session, tx: BankTransaction, actor: str = "system") -> str:
    """Pair one stored movement. Returns its status: matched, unmatched or outgoing."""
    session.flush()
    pair_many(session, [tx], actor)
    session.refresh(tx)
    return tx.status


def pair_many(session: Session, txs: Sequence, actor: str = "system") -> dict:
    """Pair freshly stored movements (status unmatched). Returns counts by status.

    ``txs`` are BankTransaction objects or rows with ``id, amount, currency, booked_on,
    variable_symbol, specific_symbol``. The whole batch is one settlement: payments
    directed by SS go to their invoice first, then everything settles oldest first, on
    both backends alike (PostgreSQL in a few set-based statements, see
    :mod:`billing.bank.pairing_pg`; elsewhere in Python).
    """
    if _is_postgresql(session):
        session.flush()
        ids = [tx.id for tx in txs]
        if not ids:
            return {MATCHED: 0, UNMATCHED: 0, OUTGOING: 0}
        stage_batch(session, ids)
        return pair_staged_batch(session, actor, update_transactions=True)
    counts = {MATCHED: 0, UNMATCHED: 0, OUTGOING: 0}
    owners_all: set[int] = set()
    directed_all: dict[tuple, int] = {}
    # the matched payments as positions in ``txs`` and their owners (compact: a statement
    # of 50 MB pairs hundreds of thousands; docs/bank-statements.md, "Size")
    txs = txs if isinstance(txs, Sequence) else list(txs)
    matched_at, matched_owner = array("q"), array("q")
    for start in range(0, len(txs), CHUNK):
        chunk = txs[start : start + CHUNK]
        owners, directed = _resolve(session, chunk)
        updates, matched = [], []
        for position, tx in enumerate(chunk, start):
            if tx.amount <= 0:
                status, owner = OUTGOING, None
            elif (
                tx.currency == PAIRED_CURRENCY
                and tx.id in owners
                and getattr(tx, "duplicate_of", None) is None  # held: billing.bank.importing
            ):
                status, owner = MATCHED, owners[tx.id]
                matched.append((tx, owner))
                matched_at.append(position)
                matched_owner.append(owner)
            else:
                status, owner = UNMATCHED, None
            counts[status] += 1
            updates.append({"id": tx.id, "status": status, "customer_id": owner})
        bulk_update(session, BankTransaction.__table__, updates)
        _audit_payments(session, matched, actor)
        owners_all.update(owner for _, owner in matched)
        directed_all.update(directed)
    # each payment is posted with what this settlement applied of it (one transaction:
    # docs/ledger.md), after the settlement
    applied: dict[int, Decimal] = {}
    _settle_python(session, sorted(owners_all), directed_all, actor,
                   _Ids(txs[position].id for position in matched_at), applied)
    for start in range(0, len(matched_at), CHUNK):
        postings.post_payments(
            session,
            [(txs[position], owner) for position, owner in
             zip(matched_at[start : start + CHUNK], matched_owner[start : start + CHUNK],
                 strict=True)],
            actor, applied)
    for customer_id in sorted(owners_all):
        events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return counts


def _resolve(session: Session, txs: Sequence[BankTransaction]) -> tuple[dict, dict]:
    """Owner customer per tx id, and ("tx", id) -> invoice id for payments directed by SS."""
    incoming = [tx for tx in txs if tx.amount > 0 and tx.currency == PAIRED_CURRENCY]
    ss = {tx.specific_symbol for tx in incoming if tx.specific_symbol}
    vs = {tx.variable_symbol for tx in incoming if tx.variable_symbol}
    by_ss = {}
    if ss:
        by_ss = {
            row.specific_symbol: (row.id, row.customer_id)
            for row in session.execute(
                select(Invoice.id, Invoice.customer_id, Invoice.specific_symbol).where(
                    is_in(session, Invoice.specific_symbol, ss), Invoice.kind != "credit_note"
                )
            )
        }
    by_vs: dict[str, int] = {}
    if vs:
        by_vs.update(
            (number, cid)
            for number, cid in session.execute(
                select(Customer.customer_number, Customer.id).where(is_in(session, Customer.customer_number, vs))
            )
        )
        # a contract number wins over a customer number
        by_vs.update(
            (number, cid)
            for number, cid in session.execute(
                select(Contract.number, Contract.customer_id).where(is_in(session, Contract.number, vs))
            )
        )
    owners, directed = {}, {}
    for tx in incoming:
        if tx.specific_symbol in by_ss:
            invoice_id, customer_id = by_ss[tx.specific_symbol]
            owners[tx.id], directed[("tx", tx.id)] = customer_id, invoice_id
        elif tx.variable_symbol in by_vs:
            owners[tx.id] = by_vs[tx.variable_symbol]
    return owners, directed


def book_payments(session: Session, matched: Sequence[tuple], actor: str) -> None:
    """Ledger postings and audit events for paired payments ``[(tx, customer_id), ...]``."""
    if not matched:
        return
    postings.post_payments(session, matched, actor)
    _audit_payments(session, matched, actor)


class _Ids:
    """A set of ids in 8 bytes each (a sorted array; ``in`` by bisection)."""

    def __init__(self, ids: Iterable[int]) -> None:
        self._ids = array("q", sorted(ids))

    def __contains__(self, value: int) -> bool:
        i = bisect_left(self._ids, value)
        return i < len(self._ids) and self._ids[i] == value


def _audit_payments(session: Session, matched: Sequence[tuple], actor: str) -> None:
    if not matched:
        return
    moment = now()
    bulk_insert(
        session,
        AuditEvent.__table__,
        [
            {
                "at": moment,
                "actor": actor,
                "customer_id": owner,
                "action": "payment.matched",
                "new_value": str(tx.amount),
                "details": f'{{"tx": {tx.id}}}',
            }
            for tx, owner in matched
        ],
    )


def settle(session: Session, customer_ids: Iterable[int], directed: dict[tuple, int],
           actor: str = "system") -> Decimal:
    """Apply the customers' unapplied payments and credit notes to their open invoices.

    ``directed`` maps a source (``("tx", id)`` or ``("cn", id)``) to the invoice it is meant
    for (a payment's SS, the invoice a credit note corrects); it goes there first; everything else settles open
    invoices by due date, oldest first. Returns the total applied.
    """
    customer_ids = sorted(set(customer_ids))
    if not customer_ids:
        return ZERO
    if _is_postgresql(session):
        return settle_given(session, customer_ids, directed, actor)
    return _settle_python(session, customer_ids, directed, actor)


def _settle_python(session: Session, customer_ids: list[int], directed: dict[tuple, int],
                   actor: str, folded: Container[int] = frozenset(),
                   applied_of: dict[int, Decimal] | None = None) -> Decimal:
    """:func:`settle` in Python. The allocations of the payments in ``folded`` (bank
    transaction ids) get no ledger transactions: what each of them applied is added up in
    ``applied_of`` for the payment's own posting."""
    applied = ZERO
    for ids in _chunks(customer_ids):
        opened = _open_invoices(session, ids)
        payments = _unapplied_payments(session, ids)
        rows: list[dict] = []
        owners: list[int] = []
        for customer_id, plist in payments.items():
            invoices = opened.get(customer_id, [])
            by_id = {inv[0]: inv for inv in invoices}
            first = len(rows)
            for pay in plist:  # directed first
                target = by_id.get(directed.get(pay[0]))
                if target is not None:
                    applied += _apply(pay, target, rows)
            for pay in plist:
                for inv in invoices:
                    if pay[1] <= 0:
                        break
                    applied += _apply(pay, inv, rows)
            owners.extend([customer_id] * (len(rows) - first))
        if rows:
            _store_allocations(session, rows, owners, actor, folded, applied_of)
    session.flush()
    return applied


def _store_allocations(session: Session, rows: list[dict], owners: list[int], actor: str,
                       folded: Container[int] = frozenset(),
                       applied_of: dict[int, Decimal] | None = None) -> None:
    """Insert the allocations (in order) and post each to the ledger (those of ``folded``
    payments: added up in ``applied_of`` instead, see :func:`_settle_python`)."""
    moment = now()
    for row in rows:
        row.setdefault("bank_transaction_id", None)
        row.setdefault("credit_note_id", None)
        row["created_at"] = moment
    table = Allocation.__table__
    ids = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    ).scalars().all()
    posted = []
    for row, id_, owner in zip(rows, ids, owners, strict=True):
        tx_id = row["bank_transaction_id"]
        if tx_id is not None and tx_id in folded:
            applied_of[tx_id] = applied_of.get(tx_id, ZERO) + row["amount"]
        else:
            posted.append({**row, "id": id_, "customer_id": owner})
    postings.post_allocations(session, posted, actor)


def _apply(pay: list, inv: list, rows: list) -> Decimal:
    amount = min(pay[1], inv[1])
    if amount <= 0:
        return ZERO
    kind, source_id = pay[0]
    source = "bank_transaction_id" if kind == "tx" else "credit_note_id"
    rows.append({source: source_id, "invoice_id": inv[0], "amount": amount})
    pay[1] -= amount
    inv[1] -= amount
    return amount


def _open_invoices(session: Session, customer_ids) -> dict[int, list[list]]:
    """customer -> [[invoice_id, open_amount], ...] by due date, oldest first."""
    paid = (
        select(Allocation.invoice_id, money_sum(Allocation.amount).label("paid"))
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(is_in(session, Invoice.customer_id, customer_ids))
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    rows = session.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.total, paid.c.paid)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(is_in(session, Invoice.customer_id, customer_ids), Invoice.kind != "credit_note")
        .order_by(Invoice.due_date, Invoice.issue_date, Invoice.id)
    )
    result: dict[int, list[list]] = defaultdict(list)
    for invoice_id, customer_id, total, paid_amount in rows:
        left = total - _money(paid_amount)
        if left > 0:
            result[customer_id].append([invoice_id, left])
    return result


def _unapplied_payments(session: Session, customer_ids) -> dict[int, list[list]]:
    """customer -> [[("tx"|"cn", id), unapplied amount], ...], oldest first.

    Sources of credit are paired bank payments, credit notes and final invoices that leave
    an overpaid advance as credit (negative totals, billing.invoicing.settlement).
    """
    used_tx = (
        select(Allocation.bank_transaction_id, money_sum(Allocation.amount).label("used"))
        .join(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
        .where(is_in(session, BankTransaction.customer_id, customer_ids))
        .group_by(Allocation.bank_transaction_id)
        .subquery()
    )
    txs = session.execute(
        select(
            BankTransaction.id,
            BankTransaction.customer_id,
            BankTransaction.booked_on,
            BankTransaction.amount,
            used_tx.c.used,
        )
        .outerjoin(used_tx, used_tx.c.bank_transaction_id == BankTransaction.id)
        .where(is_in(session, BankTransaction.customer_id, customer_ids), BankTransaction.status == MATCHED)
    )
    used_cn = (
        select(Allocation.credit_note_id, money_sum(Allocation.amount).label("used"))
        .join(Invoice, Invoice.id == Allocation.credit_note_id)
        .where(is_in(session, Invoice.customer_id, customer_ids))
        .group_by(Allocation.credit_note_id)
        .subquery()
    )
    notes = session.execute(
        select(Invoice.id, Invoice.customer_id, Invoice.issue_date, -Invoice.total, used_cn.c.used)
        .outerjoin(used_cn, used_cn.c.credit_note_id == Invoice.id)
        .where(is_in(session, Invoice.customer_id, customer_ids),
               Invoice.total < 0,  # credit notes and overpaid final invoices (settlement.py)
               # a credit note whose credit went back to the credit account (early end of a
               # prepaid service, billing/credit/early_end.py) settles nothing here
               ~Invoice.id.in_(select(CreditReturn.credit_note_id)))
    )
    result: dict[int, list[list]] = defaultdict(list)
    sources = [("tx", row) for row in txs] + [("cn", row) for row in notes]
    sources.sort(key=lambda item: (item[1][2], item[0] == "tx", item[1][0]))
    for kind, (source_id, customer_id, _day, amount, used_amount) in sources:
        left = amount - _money(used_amount)
        if left > 0:
            result[customer_id].append([(kind, source_id), left])
    return result


def _money(value) -> Decimal:
    # money_sum() in a subquery comes back through the Money type on both backends
    return ZERO if value is None else value


def apply_credit(session: Session, customer_id: int) -> Decimal:
    """Settle the customer's open invoices from credit (after an invoice is issued)."""
    return settle(session, [customer_id], {})


def credit_available(session: Session, customer_id: int) -> Decimal:
    """Money paid (or credited) and not yet applied to any invoice."""
    sources = _unapplied_payments(session, [customer_id]).get(customer_id, [])
    return sum((left for _, left in sources), ZERO)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


__all__ = [
    "MATCHED",
    "OUTGOING",
    "PAIRED_CURRENCY",
    "UNMATCHED",
    "PairingError",
    "apply_credit",
    "book_payments",
    "credit_available",
    "pair",
    "pair_many",
    "settle",
]

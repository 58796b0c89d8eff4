"""Pairing bank payments with invoices.

Rules: a specific symbol equal to an invoice's SS pays that invoice; otherwise a variable
symbol equal to a contract (or customer) number pays that customer's open invoices, oldest
first. Whatever is left becomes the customer's credit, which settles the next invoices as
soon as they are issued. What cannot be paired waits in the unmatched queue for an operator.
Outgoing movements are recorded, never paired.

Pairing works on batches (a whole statement costs a handful of queries per few thousand
movements); pairing one movement is a batch of one. Functions flush; the caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from billing import audit, events
from billing.accounts import ZERO
from billing.clock import now
from billing.db import bulk_insert, bulk_update, is_in, money_sum
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    Contract,
    Customer,
    Invoice,
    LedgerEntry,
)

MATCHED, UNMATCHED, OUTGOING = "matched", "unmatched", "outgoing"
CHUNK = 5000


class PairingError(ValueError):
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

    ``txs`` are BankTransaction objects or rows with ``id, amount, booked_on,
    variable_symbol, specific_symbol``. The whole batch is one settlement: payments
    directed by SS go to their invoice first, then everything settles oldest first, on
    both backends alike (PostgreSQL in a few set-based statements, see "PostgreSQL"
    below; elsewhere in Python).
    """
    if _is_postgresql(session):
        session.flush()
        ids = [tx.id for tx in txs]
        if not ids:
            return {MATCHED: 0, UNMATCHED: 0, OUTGOING: 0}
        _pg_stage_batch(session, ids)
        return pair_staged_batch(session, actor, update_transactions=True)
    counts = {MATCHED: 0, UNMATCHED: 0, OUTGOING: 0}
    owners_all: set[int] = set()
    directed_all: dict[tuple, int] = {}
    for chunk in _chunks(list(txs)):
        owners, directed = _resolve(session, chunk)
        updates, matched = [], []
        for tx in chunk:
            if tx.amount <= 0:
                status, owner = OUTGOING, None
            elif tx.id in owners:
                status, owner = MATCHED, owners[tx.id]
                matched.append((tx, owner))
            else:
                status, owner = UNMATCHED, None
            counts[status] += 1
            updates.append({"id": tx.id, "status": status, "customer_id": owner})
        bulk_update(session, BankTransaction.__table__, updates)
        _book_payments(session, matched, actor)
        owners_all.update(owner for _, owner in matched)
        directed_all.update(directed)
    settle(session, owners_all, directed_all)
    for customer_id in sorted(owners_all):
        events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return counts


def assign(session: Session, tx: BankTransaction, customer: Customer, actor: str) -> None:
    """Pair an unmatched movement by hand (audited)."""
    if tx.status != UNMATCHED:
        raise PairingError(f"transaction {tx.id} is {tx.status}, not unmatched")
    tx.status, tx.customer_id = MATCHED, customer.id
    session.flush()
    _book_payments(session, [(tx, customer.id)], actor)
    settle(session, {customer.id}, {})
    audit.record(
        session,
        "payment.assigned",
        actor=actor,
        customer_id=customer.id,
        new_value=str(tx.id),
        details={"amount": str(tx.amount), "vs": tx.variable_symbol, "ss": tx.specific_symbol},
    )
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer.id)


def _resolve(session: Session, txs: Sequence[BankTransaction]) -> tuple[dict, dict]:
    """Owner customer per tx id, and ("tx", id) -> invoice id for payments directed by SS."""
    incoming = [tx for tx in txs if tx.amount > 0]
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


def _book_payments(session: Session, matched: Sequence[tuple], actor: str) -> None:
    """Ledger entries and audit events for paired payments ``[(tx, customer_id), ...]``."""
    if not matched:
        return
    moment = now()
    bulk_insert(
        session,
        LedgerEntry.__table__,
        [
            {
                "customer_id": owner,
                "booked_on": tx.booked_on,
                "kind": "payment",
                "amount": tx.amount,
                "bank_transaction_id": tx.id,
                "description": f"Platba VS {tx.variable_symbol or '-'} SS {tx.specific_symbol or '-'}",
                "created_at": moment,
            }
            for tx, owner in matched
        ],
    )
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


def settle(session: Session, customer_ids: Iterable[int], directed: dict[tuple, int]) -> Decimal:
    """Apply the customers' unapplied payments and credit notes to their open invoices.

    ``directed`` maps a source (``("tx", id)`` or ``("cn", id)``) to the invoice it is meant
    for (a payment's SS, the invoice a credit note corrects); it goes there first; everything else settles open
    invoices by due date, oldest first. Returns the total applied.
    """
    customer_ids = sorted(set(customer_ids))
    if not customer_ids:
        return ZERO
    if _is_postgresql(session):
        return _pg_settle_given(session, customer_ids, directed)
    applied = ZERO
    for ids in _chunks(customer_ids):
        opened = _open_invoices(session, ids)
        payments = _unapplied_payments(session, ids)
        rows = []
        for customer_id, plist in payments.items():
            invoices = opened.get(customer_id, [])
            by_id = {inv[0]: inv for inv in invoices}
            for pay in plist:  # directed first
                target = by_id.get(directed.get(pay[0]))
                if target is not None:
                    applied += _apply(pay, target, rows)
            for pay in plist:
                for inv in invoices:
                    if pay[1] <= 0:
                        break
                    applied += _apply(pay, inv, rows)
        if rows:
            moment = now()
            for row in rows:
                row.setdefault("bank_transaction_id", None)
                row.setdefault("credit_note_id", None)
                row["created_at"] = moment
            bulk_insert(session, Allocation.__table__, rows)
    session.flush()
    return applied


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

    Sources of credit are paired bank payments and credit notes.
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
        .where(is_in(session, Invoice.customer_id, customer_ids), Invoice.kind == "credit_note")
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


def unmatched(session: Session) -> list[BankTransaction]:
    return list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.status == UNMATCHED)
            .order_by(BankTransaction.booked_on, BankTransaction.id)
        )
    )


# -- PostgreSQL: the same pairing as set-based SQL --------------------------------------------
#
# A statement of 100,000 movements is paired by a handful of statements instead of shipping
# every row through Python. The batch lives in the temporary table ``pairing_batch`` (one
# row per movement: its status, owner and the invoice its SS points at); settlement works
# on cumulative sums: each unapplied source (payment or credit note, oldest first) covers an
# interval of the customer's money, each open invoice (by due date) an interval of the debt,
# and an allocation is the overlap of the two, which is exactly what the greedy Python loop
# of :func:`settle` computes. tests/billing run both paths against the same assertions.

_BATCH_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS pairing_batch (tx_id integer PRIMARY KEY, "
    "status varchar(10) NOT NULL, customer_id integer, directed_invoice_id integer, "
    "booked_on date, amount numeric(12, 2), variable_symbol varchar(10), "
    "specific_symbol varchar(10)) ON COMMIT DROP"
)

BATCH_COLUMNS = (
    "tx_id, status, customer_id, directed_invoice_id, booked_on, amount, variable_symbol, "
    "specific_symbol"
)
# status, owner and SS-directed invoice of the movement ``t`` (joined as in RESOLVE_JOINS)
RESOLVE_STATUS = (
    "CASE WHEN t.amount <= 0 THEN 'outgoing' "
    "WHEN coalesce(si.customer_id, ct.customer_id, cu.id) IS NULL THEN 'unmatched' "
    "ELSE 'matched' END"
)
RESOLVE_OWNER = "CASE WHEN t.amount > 0 THEN coalesce(si.customer_id, ct.customer_id, cu.id) END"
RESOLVE_DIRECTED = "CASE WHEN t.amount > 0 THEN si.id END"
RESOLVE_JOINS = """
    LEFT JOIN invoice si ON si.specific_symbol = t.specific_symbol
         AND t.specific_symbol <> '' AND si.kind <> 'credit_note'
    LEFT JOIN contract ct ON si.id IS NULL AND ct.number = t.variable_symbol
    LEFT JOIN customer cu ON si.id IS NULL AND cu.customer_number = t.variable_symbol"""

_SETTLE = """
WITH cu AS ({customers}),
paid AS (
    SELECT a.invoice_id, sum(a.amount) AS paid FROM allocation a
    JOIN invoice i ON i.id = a.invoice_id JOIN cu ON cu.customer_id = i.customer_id
    GROUP BY a.invoice_id),
inv AS (
    SELECT i.id, i.customer_id, i.total - coalesce(p.paid, 0) AS open,
           row_number() OVER (PARTITION BY i.customer_id
                              ORDER BY i.due_date, i.issue_date, i.id) AS rn
    FROM invoice i JOIN cu ON cu.customer_id = i.customer_id
    LEFT JOIN paid p ON p.invoice_id = i.id
    WHERE i.kind <> 'credit_note' AND i.total - coalesce(p.paid, 0) > 0),
used_tx AS (
    SELECT a.bank_transaction_id AS id, sum(a.amount) AS used FROM allocation a
    JOIN bank_transaction t ON t.id = a.bank_transaction_id
    JOIN cu ON cu.customer_id = t.customer_id GROUP BY a.bank_transaction_id),
used_cn AS (
    SELECT a.credit_note_id AS id, sum(a.amount) AS used FROM allocation a
    JOIN invoice i ON i.id = a.credit_note_id
    JOIN cu ON cu.customer_id = i.customer_id GROUP BY a.credit_note_id),
src AS (
    SELECT 'tx' AS kind, t.id, t.customer_id, t.booked_on AS day,
           t.amount - coalesce(u.used, 0) AS amount
    FROM bank_transaction t JOIN cu ON cu.customer_id = t.customer_id
    LEFT JOIN used_tx u ON u.id = t.id
    WHERE t.status = 'matched' AND t.amount - coalesce(u.used, 0) > 0
    UNION ALL
    SELECT 'cn', i.id, i.customer_id, i.issue_date, -i.total - coalesce(u.used, 0)
    FROM invoice i JOIN cu ON cu.customer_id = i.customer_id
    LEFT JOIN used_cn u ON u.id = i.id
    WHERE i.kind = 'credit_note' AND -i.total - coalesce(u.used, 0) > 0),
src_ranked AS (
    SELECT src.*, row_number() OVER (PARTITION BY customer_id
                                     ORDER BY day, kind = 'tx', id) AS rn
    FROM src),
directed AS (
    SELECT s.kind, s.id, s.customer_id, s.rn AS src_rn, v.id AS invoice_id, v.rn AS inv_rn,
           least(sum(s.amount) OVER w, v.open) - (sum(s.amount) OVER w - s.amount) AS amount
    FROM src_ranked s
    JOIN ({directed}) d ON d.kind = s.kind AND d.source_id = s.id
    JOIN inv v ON v.id = d.invoice_id AND v.customer_id = s.customer_id
    WINDOW w AS (PARTITION BY v.id ORDER BY s.rn)),
directed_paid AS (SELECT * FROM directed WHERE amount > 0),
src_left AS (
    SELECT s.kind, s.id, s.customer_id, s.rn, s.amount - coalesce(d.used, 0) AS amount
    FROM src_ranked s LEFT JOIN (
        SELECT kind, id, sum(amount) AS used FROM directed_paid GROUP BY kind, id
    ) d ON d.kind = s.kind AND d.id = s.id),
inv_left AS (
    SELECT v.id, v.customer_id, v.rn, v.open - coalesce(d.used, 0) AS open
    FROM inv v LEFT JOIN (
        SELECT invoice_id, sum(amount) AS used FROM directed_paid GROUP BY invoice_id
    ) d ON d.invoice_id = v.id),
sc AS (
    SELECT *, sum(amount) OVER (PARTITION BY customer_id ORDER BY rn) AS hi
    FROM src_left WHERE amount > 0),
ic AS (
    SELECT *, sum(open) OVER (PARTITION BY customer_id ORDER BY rn) AS hi
    FROM inv_left WHERE open > 0),
fifo AS (
    SELECT sc.kind, sc.id, sc.customer_id, sc.rn AS src_rn, ic.id AS invoice_id,
           ic.rn AS inv_rn,
           least(sc.hi, ic.hi) - greatest(sc.hi - sc.amount, ic.hi - ic.open) AS amount
    FROM sc JOIN ic ON ic.customer_id = sc.customer_id
     AND sc.hi - sc.amount < ic.hi AND ic.hi - ic.open < sc.hi),
inserted AS (
    INSERT INTO allocation (invoice_id, bank_transaction_id, credit_note_id, amount,
                            created_at)
    SELECT invoice_id, CASE WHEN kind = 'tx' THEN id END,
           CASE WHEN kind = 'cn' THEN id END, amount, :moment
    FROM (SELECT *, 0 AS phase FROM directed_paid
          UNION ALL SELECT *, 1 FROM fifo WHERE amount > 0) x
    ORDER BY customer_id, phase, src_rn, inv_rn
    RETURNING amount)
SELECT coalesce(sum(amount), 0) FROM inserted
"""


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def start_pairing_batch(session: Session) -> None:
    """PostgreSQL: an empty ``pairing_batch`` for this transaction."""
    session.execute(text(_BATCH_DDL))
    session.execute(text("TRUNCATE pairing_batch"))


BIG_BATCH = 1000


def _pg_tune_for_batch(session: Session, table: str) -> None:
    """For a big batch: statistics of the temporary table (the planner otherwise guesses a
    few hundred rows and sorts on disk) and room for sorts and hashes in memory, both for
    this transaction only."""
    rows = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    if rows >= BIG_BATCH:
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text(f"ANALYZE {table}"))


def _pg_stage_batch(session: Session, ids: Sequence[int]) -> None:
    """Resolve the given stored movements into ``pairing_batch``."""
    start_pairing_batch(session)
    session.execute(
        text(
            f"INSERT INTO pairing_batch ({BATCH_COLUMNS}) "
            f"SELECT t.id, {RESOLVE_STATUS}, {RESOLVE_OWNER}, {RESOLVE_DIRECTED}, "
            "t.booked_on, t.amount, t.variable_symbol, t.specific_symbol "
            f"FROM bank_transaction t {RESOLVE_JOINS} "
            "WHERE t.id = ANY(CAST(:ids AS integer[]))"
        ),
        {"ids": list(ids)},
    )


def pair_staged_batch(session: Session, actor: str, update_transactions: bool) -> dict:
    """PostgreSQL: book, settle and announce the movements resolved in ``pairing_batch``.

    ``update_transactions``: write status and owner into bank_transaction (the statement
    import inserts them already resolved). Returns counts by status.
    """
    session.flush()
    _pg_tune_for_batch(session, "pairing_batch")
    if update_transactions:
        session.execute(
            text(
                "UPDATE bank_transaction t SET status = b.status, customer_id = b.customer_id "
                "FROM pairing_batch b WHERE t.id = b.tx_id"
            )
        )
    moment = now()
    params = {"moment": moment, "actor": actor}
    session.execute(
        text(
            "INSERT INTO ledger_entry (customer_id, booked_on, kind, amount, "
            "bank_transaction_id, description, created_at) "
            "SELECT b.customer_id, b.booked_on, 'payment', b.amount, b.tx_id, "
            "'Platba VS ' || coalesce(nullif(b.variable_symbol, ''), '-') || "
            "' SS ' || coalesce(nullif(b.specific_symbol, ''), '-'), :moment "
            "FROM pairing_batch b WHERE b.status = 'matched' ORDER BY b.tx_id"
        ),
        params,
    )
    session.execute(
        text(
            "INSERT INTO audit_event (at, actor, customer_id, action, new_value, details) "
            "SELECT :moment, :actor, b.customer_id, 'payment.matched', b.amount::text, "
            "'{\"tx\": ' || b.tx_id || '}' "
            "FROM pairing_batch b WHERE b.status = 'matched' ORDER BY b.tx_id"
        ),
        params,
    )
    _pg_settle(
        session,
        "SELECT DISTINCT customer_id FROM pairing_batch WHERE status = 'matched'",
        "SELECT 'tx' AS kind, tx_id AS source_id, directed_invoice_id AS invoice_id "
        "FROM pairing_batch WHERE status = 'matched' AND directed_invoice_id IS NOT NULL",
        {},
        moment,
    )
    counts = {MATCHED: 0, UNMATCHED: 0, OUTGOING: 0}
    rows = session.execute(text("SELECT status, count(*) FROM pairing_batch GROUP BY status"))
    counts.update((status, n) for status, n in rows)
    owners = session.scalars(
        text("SELECT DISTINCT customer_id FROM pairing_batch WHERE status = 'matched' ORDER BY 1")
    )
    for customer_id in owners.all():
        events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return counts


def _pg_settle_given(session: Session, customer_ids: list[int], directed: dict[tuple, int]) -> Decimal:
    kinds, sources, invoices = [], [], []
    for (kind, source_id), invoice_id in directed.items():
        kinds.append(kind)
        sources.append(source_id)
        invoices.append(invoice_id)
    return _pg_settle(
        session,
        "SELECT DISTINCT unnest(CAST(:customer_ids AS integer[])) AS customer_id",
        "SELECT * FROM unnest(CAST(:d_kinds AS text[]), CAST(:d_sources AS integer[]), "
        "CAST(:d_invoices AS integer[])) AS d(kind, source_id, invoice_id)",
        {"customer_ids": customer_ids, "d_kinds": kinds, "d_sources": sources,
         "d_invoices": invoices},
        now(),
    )


def _pg_settle(session: Session, customers_sql: str, directed_sql: str, params: dict,
               moment) -> Decimal:
    session.flush()
    applied = session.execute(
        text(_SETTLE.format(customers=customers_sql, directed=directed_sql)),
        {**params, "moment": moment},
    ).scalar_one()
    return Decimal(applied).quantize(Decimal("0.01"))


__all__ = [
    "MATCHED",
    "OUTGOING",
    "UNMATCHED",
    "PairingError",
    "apply_credit",
    "assign",
    "credit_available",
    "pair",
    "pair_many",
    "pair_staged_batch",
    "start_pairing_batch",
    "settle",
    "unmatched",
]

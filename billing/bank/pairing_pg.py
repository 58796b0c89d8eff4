"""Pairing on PostgreSQL: the rules of :mod:`billing.bank.pairing` as set-based SQL.

A statement of 100,000 movements is paired by a handful of statements instead of shipping
every row through Python. The batch lives in the temporary table ``pairing_batch`` (one row
per movement: its status, owner and the invoice its SS points at); settlement works on
cumulative sums: each unapplied source (payment or credit note, oldest first) covers an
interval of the customer's money, each open invoice (by due date) an interval of the debt,
and an allocation is the overlap of the two, which is exactly what the greedy Python loop of
:func:`billing.bank.pairing.settle` computes. tests/billing run both paths against the same
assertions (``test_postgresql_pairing_equals_the_python_loop`` compares them directly).

Planner settings, for the pairing transaction only (``SET LOCAL``):

* ``jit = off``: the CTE estimates of these statements easily pass ``jit_above_cost``
  (millions of rows where statistics are missing or tables are big), and JIT compiling a
  statement that runs once never pays: on the 100,000-line benchmark without table
  statistics it compiled for 2.5 s of 11 s (0.5 s for storing, 2.0 s for the settlement).
* big batches: ``work_mem`` for the sorts and hashes, and statistics of the temporary tables
  (sampled lightly: the planner needs their size and distinct counts, not histograms).

Functions flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from billing.ledger import postings
from core import events
from core.clock import now, today

BIG_BATCH = 1000

_BATCH_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS pairing_batch (tx_id integer PRIMARY KEY, "
    "status varchar(10) NOT NULL, customer_id integer, directed_invoice_id integer, "
    "booked_on date, amount numeric(12, 2), variable_symbol varchar(10), "
    "specific_symbol varchar(10), ledger_tid integer) ON COMMIT DROP"
)

BATCH_COLUMNS = (
    "tx_id, status, customer_id, directed_invoice_id, booked_on, amount, variable_symbol, "
    "specific_symbol, ledger_tid"
)
# ``ledger_tid``: the id of a matched payment's ledger transaction, drawn when it is staged
# (postings.post_staged reads the batch itself); ``{status}`` is the resolved status
BATCH_TID = f"CASE WHEN {{status}} = 'matched' THEN {postings.NEXT_TRANSACTION_ID} END"
# status, owner and SS-directed invoice of the movement ``t`` (joined as in RESOLVE_JOINS)
# (an incoming payment in another currency than our invoices' waits for an operator: its
# amount is not CZK; see billing.bank.pairing.PAIRED_CURRENCY)
# (and a suspected duplicate of a movement from another statement, ``duplicate_of``, waits
# too: billing.bank.importing)
RESOLVE_STATUS = (
    "CASE WHEN t.amount <= 0 THEN 'outgoing' "
    "WHEN t.currency <> 'CZK' OR t.duplicate_of IS NOT NULL "
    "OR coalesce(si.customer_id, ct.customer_id, cu.id) IS NULL THEN 'unmatched' "
    "ELSE 'matched' END"
)
RESOLVE_OWNER = (
    "CASE WHEN t.amount > 0 AND t.currency = 'CZK' AND t.duplicate_of IS NULL "
    "THEN coalesce(si.customer_id, ct.customer_id, cu.id) END"
)
RESOLVE_DIRECTED = (
    "CASE WHEN t.amount > 0 AND t.currency = 'CZK' AND t.duplicate_of IS NULL THEN si.id END"
)
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
    WHERE i.total < 0 AND -i.total - coalesce(u.used, 0) > 0  -- credit notes, overpaid final invoices
      AND NOT EXISTS (SELECT 1 FROM credit_return r WHERE r.credit_note_id = i.id)),  -- back to the credit
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
-- the allocations with their ids drawn here (in the order they are made), so that what the
-- batch needs of them is written beside them, not read back through RETURNING
x AS MATERIALIZED (
    SELECT nextval((SELECT pg_get_serial_sequence('allocation', 'id'))::regclass) AS id, o.*
    FROM (
        SELECT invoice_id, kind, id AS source_id, customer_id, amount
        FROM (SELECT *, 0 AS phase FROM directed_paid
              UNION ALL SELECT *, 1 FROM fifo WHERE amount > 0) u
        ORDER BY customer_id, phase, src_rn, inv_rn) o),
inserted AS (
    INSERT INTO allocation (id, invoice_id, bank_transaction_id, credit_note_id, amount,
                            created_at)
    SELECT id, invoice_id, CASE WHEN kind = 'tx' THEN source_id END,
           CASE WHEN kind = 'cn' THEN source_id END, amount, :moment
    FROM x)
INSERT INTO settled_batch (allocation_id, invoice_id, customer_id, bank_transaction_id, amount,
                           ledger_tid)
SELECT s.*, {next_tid} FROM (
    SELECT id, invoice_id, customer_id, CASE WHEN kind = 'tx' THEN source_id END
           AS bank_transaction_id, amount
    FROM x) s
"""

_SETTLED_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS settled_batch (allocation_id integer PRIMARY KEY, "
    "invoice_id integer, customer_id integer, bank_transaction_id integer, "
    "amount numeric(12, 2), ledger_tid integer) ON COMMIT DROP"
)

# the ledger postings of a batch (see billing.ledger.postings and docs/ledger.md): each
# payment with what the batch's settlement applied of it (bank clearing +amount, receivable
# -applied, the customer's prepaid credit -rest: one transaction), and the allocations of
# other sources (older credit, credit notes: prepaid credit -> settles the receivable)
_MATCHED = "SELECT tx_id FROM pairing_batch WHERE status = 'matched'"
_PAYMENT_POSTINGS = (
    "SELECT b.ledger_tid AS tid, b.customer_id, b.booked_on, b.amount, 'bank_clearing' AS debit_key, "
    "'prepaid_credit:' || b.customer_id AS credit_key, "
    "'Platba VS ' || coalesce(nullif(b.variable_symbol, ''), '-') || "
    "' SS ' || coalesce(nullif(b.specific_symbol, ''), '-') AS description, "
    "NULL::integer AS invoice_id, b.tx_id AS bank_transaction_id, "
    "NULL::integer AS allocation_id, 'receivable:' || b.customer_id AS split_key, "
    "coalesce(s.applied, 0) AS split_amount "
    "FROM pairing_batch b LEFT JOIN (SELECT bank_transaction_id, sum(amount) AS applied "
    " FROM settled_batch GROUP BY bank_transaction_id) s ON s.bank_transaction_id = b.tx_id "
    "WHERE b.status = 'matched'"
)
_ALLOCATION_POSTINGS = (
    "SELECT ledger_tid AS tid, customer_id, CAST(:booked AS date) AS booked_on, amount, "
    "'prepaid_credit:' || customer_id AS debit_key, 'receivable:' || customer_id AS credit_key, "
    "NULL::text AS description, NULL::integer AS invoice_id, "
    "NULL::integer AS bank_transaction_id, allocation_id, NULL::text AS split_key, "
    "0 AS split_amount FROM settled_batch WHERE ledger_tid IS NOT NULL"
)


_NO_JIT = "billing.bank.pairing_pg.no_jit"


def plan_for_pairing(session: Session) -> None:
    """No JIT compilation for the rest of this transaction (see the module docstring); once
    per transaction, as issuing each invoice settles too."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get(_NO_JIT) is not transaction:
        session.execute(text("SET LOCAL jit = off"))
        session.info[_NO_JIT] = session.get_transaction()


def plan_for_big_batch(session: Session, *tables: str) -> None:
    """Room for sorts and hashes in memory and statistics of the given temporary tables
    (otherwise the planner guesses a few hundred rows and sorts on disk), for this
    transaction only. A light sample (3,000 rows instead of 30,000) is enough for row counts
    and distinct values and costs a tenth."""
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text("SET LOCAL default_statistics_target = 10"))
    for table in tables:
        session.execute(text(f"ANALYZE {table}"))
    session.execute(text("SET LOCAL default_statistics_target TO DEFAULT"))


def start_pairing_batch(session: Session) -> None:
    """An empty ``pairing_batch`` for this transaction."""
    plan_for_pairing(session)
    session.execute(text(_BATCH_DDL))
    session.execute(text("TRUNCATE pairing_batch"))


def stage_batch(session: Session, ids: Sequence[int]) -> None:
    """Resolve the given stored movements into ``pairing_batch``."""
    start_pairing_batch(session)
    session.execute(
        text(
            f"INSERT INTO pairing_batch ({BATCH_COLUMNS}) "
            f"SELECT r.*, {BATCH_TID.format(status='r.status')} FROM ("
            f" SELECT t.id, {RESOLVE_STATUS} AS status, {RESOLVE_OWNER}, {RESOLVE_DIRECTED}, "
            " t.booked_on, t.amount, t.variable_symbol, t.specific_symbol "
            f" FROM bank_transaction t {RESOLVE_JOINS} "
            " WHERE t.id = ANY(CAST(:ids AS integer[])) ORDER BY t.id) r"
        ),
        {"ids": list(ids)},
    )
    if len(ids) >= BIG_BATCH:
        plan_for_big_batch(session, "pairing_batch")


def pair_staged_batch(session: Session, actor: str, update_transactions: bool) -> dict:
    """Book, settle and announce the movements resolved in ``pairing_batch``.

    ``update_transactions``: write status and owner into bank_transaction (the statement
    import inserts them already resolved). The caller has run :func:`plan_for_big_batch`
    on ``pairing_batch`` if it is big. Returns counts by status.
    """
    session.flush()
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
            "INSERT INTO audit_event (at, actor, customer_id, action, new_value, details) "
            "SELECT :moment, :actor, b.customer_id, 'payment.matched', b.amount::text, "
            "'{\"tx\": ' || b.tx_id || '}' "
            "FROM pairing_batch b WHERE b.status = 'matched' ORDER BY b.tx_id"
        ),
        params,
    )
    _settle(
        session,
        "SELECT DISTINCT customer_id FROM pairing_batch WHERE status = 'matched'",
        "SELECT 'tx' AS kind, tx_id AS source_id, directed_invoice_id AS invoice_id "
        "FROM pairing_batch WHERE status = 'matched' AND directed_invoice_id IS NOT NULL",
        {},
        moment,
        actor,
        folded_sql=_MATCHED,
    )
    # after the settlement: each payment's transaction carries what it settled
    postings.post_staged(session, "payment", _PAYMENT_POSTINGS, {}, actor)
    counts = {"matched": 0, "unmatched": 0, "outgoing": 0}
    rows = session.execute(text("SELECT status, count(*) FROM pairing_batch GROUP BY status"))
    counts.update((status, n) for status, n in rows)
    owners = session.scalars(
        text("SELECT DISTINCT customer_id FROM pairing_batch WHERE status = 'matched' ORDER BY 1")
    )
    for customer_id in owners.all():
        events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer_id)
    return counts


def settle_given(session: Session, customer_ids: list[int], directed: dict[tuple, int],
                 actor: str = "system") -> Decimal:
    """:func:`billing.bank.pairing.settle` for the given customers and directed sources."""
    plan_for_pairing(session)
    kinds, sources, invoices = [], [], []
    for (kind, source_id), invoice_id in directed.items():
        kinds.append(kind)
        sources.append(source_id)
        invoices.append(invoice_id)
    return _settle(
        session,
        "SELECT DISTINCT unnest(CAST(:customer_ids AS integer[])) AS customer_id",
        "SELECT * FROM unnest(CAST(:d_kinds AS text[]), CAST(:d_sources AS integer[]), "
        "CAST(:d_invoices AS integer[])) AS d(kind, source_id, invoice_id)",
        {"customer_ids": customer_ids, "d_kinds": kinds, "d_sources": sources,
         "d_invoices": invoices},
        now(),
        actor,
    )


_LOCK_CUSTOMERS = "SELECT id FROM customer WHERE id IN ({customers}) ORDER BY id FOR NO KEY UPDATE"


def lock_customers(session: Session, customer_ids: Sequence[int]) -> None:
    """The settlers' lock (see :func:`_settle`) on the given customers, for this transaction:
    taken by whatever changes a customer's allocations outside a settlement (unpairing a
    payment), so that no settlement of theirs runs in between."""
    session.execute(
        text(_LOCK_CUSTOMERS.format(customers="SELECT unnest(CAST(:ids AS integer[]))")),
        {"ids": sorted(set(customer_ids))},
    )


def _settle(session: Session, customers_sql: str, directed_sql: str, params: dict,
            moment, actor: str, folded_sql: str | None = None) -> Decimal:
    """Settle, and post the allocations, except those of the payments ``folded_sql``
    selects (ids of bank transactions whose own postings carry them, written by the
    caller after this: see ``_PAYMENT_POSTINGS``)."""
    session.flush()
    # One settler per customer at a time: two transactions pairing money of one customer
    # (two statements of different accounts, an import and a manual assign, a payment and
    # an invoice being issued) would otherwise both see an invoice open and both pay it.
    # The second waits here, and its SETTLE then sees what the first committed. Locked in
    # id order (no deadlock between settlers); NO KEY UPDATE leaves foreign-key checks of
    # rows that reference the customer free to go on.
    session.execute(text(_LOCK_CUSTOMERS.format(customers=customers_sql)), params)
    session.execute(text(_SETTLED_DDL))
    session.execute(text("TRUNCATE settled_batch"))
    session.execute(
        text(_SETTLE.format(
            customers=customers_sql, directed=directed_sql,
            next_tid=postings.NEXT_TRANSACTION_ID if folded_sql is None else
            f"CASE WHEN s.bank_transaction_id IN ({folded_sql}) THEN NULL "
            f"ELSE {postings.NEXT_TRANSACTION_ID} END")),
        {**params, "moment": moment},
    )
    applied = session.execute(text("SELECT coalesce(sum(amount), 0) FROM settled_batch")).scalar_one()
    postings.post_staged(session, "allocation", _ALLOCATION_POSTINGS, {"booked": today()}, actor)
    return Decimal(applied).quantize(Decimal("0.01"))


__all__ = [
    "BATCH_COLUMNS",
    "BATCH_TID",
    "BIG_BATCH",
    "RESOLVE_DIRECTED",
    "RESOLVE_JOINS",
    "RESOLVE_OWNER",
    "RESOLVE_STATUS",
    "lock_customers",
    "pair_staged_batch",
    "plan_for_big_batch",
    "plan_for_pairing",
    "settle_given",
    "stage_batch",
    "start_pairing_batch",
]

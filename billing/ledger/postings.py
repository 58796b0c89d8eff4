"""Postings: the only module that writes ledger legs (docs/ledger.md).

Every money movement is one ledger transaction of two or more legs that sum to zero (debit
+, credit -), on accounts named by a key (``receivable:<customer>``, ``revenue``...; they
are created on first use). The legs are written first and the transaction's header last:
the database checks a header's legs when it arrives and refuses legs for a transaction that
already has its header (migration 0008), so a transaction is complete and balanced or it is
not there at all.

Two ways in, both here:

* :func:`record` (and the domain functions on top of it: :func:`post_invoice`,
  :func:`post_payments`, :func:`post_allocations`, :func:`post_unpairing`, :func:`reverse`,
  the VoIP ones) for a handful of transactions through the session;
* :func:`post_staged` on PostgreSQL for tens of thousands of two-leg transactions at once
  (a bank statement's payments and their settlement), set-based, with the same checks.

Balances (sums of legs) are read in :mod:`billing.ledger.balances`. Functions flush; the
caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from billing.ledger.balances import customer_balance
from billing.models import AccountKind, Invoice, LedgerAccount, LedgerLeg, LedgerTransaction
from billing.models import TransactionKind as TK
from billing.models.ledger import CREDIT_ACCOUNTS, CUSTOMER_ACCOUNTS, LINE_ACCOUNTS
from core.clock import now, today
from core.db import CENT, bulk_insert, next_serial_sql

ZERO = Decimal("0.00")
A = AccountKind

__all__ = [
    "LedgerError",
    "Posting",
    "account_key",
    "balance",
    "post",
    "post_allocations",
    "post_call_charges",
    "post_cash_cancellation",
    "post_cash_payment",
    "post_final_invoice",
    "post_invoice",
    "post_opening_credit",
    "post_opening_debt",
    "post_payments",
    "post_staged",
    "post_unpairing",
    "record",
    "reverse",
]


class LedgerError(ValueError):
    """A posting that would not balance; nothing was written."""


def account_key(kind: str, owner: int | None = None) -> str:
    """``receivable:12`` (a customer's), ``voip_line_credit:7`` (a line's), ``revenue``."""
    kind = AccountKind(kind)
    if kind in CUSTOMER_ACCOUNTS or kind in LINE_ACCOUNTS or kind in CREDIT_ACCOUNTS:
        if owner is None:
            raise LedgerError(f"a {kind} account belongs to someone: give its owner")
        return f"{kind}:{int(owner)}"
    return str(kind)


def _account_row(key: str, moment) -> dict:
    kind, _, owner = key.partition(":")
    kind = AccountKind(kind)
    return {
        "key": key,
        "kind": str(kind),
        "customer_id": int(owner) if kind in CUSTOMER_ACCOUNTS + CREDIT_ACCOUNTS else None,
        "service_id": int(owner) if kind in LINE_ACCOUNTS else None,
        "created_at": moment,
    }


def _money(value) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money must be Decimal or int, never float")
    value = Decimal(value)
    if value != value.quantize(CENT):
        raise LedgerError(f"money has more than 2 decimal places: {value}")
    return value.quantize(CENT)


@dataclass
class Posting:
    """One transaction to write: its legs as ``(account key, signed amount)``."""

    kind: str
    legs: list[tuple[str, Decimal]]
    booked_on: date | None = None
    actor: str = "system"
    description: str = ""
    customer_id: int | None = None
    service_id: int | None = None
    invoice_id: int | None = None
    bank_transaction_id: int | None = None
    allocation_id: int | None = None
    reverses_id: int | None = None
    reference: str | None = None
    _clean: list[tuple[str, Decimal]] = field(default_factory=list, repr=False)

    def check(self) -> None:
        TK(self.kind)
        legs = [(key, _money(amount)) for key, amount in self.legs]
        self._clean = [(key, amount) for key, amount in legs if amount != 0]
        total = sum((amount for _, amount in self._clean), ZERO)
        if total != 0 or len(self._clean) < 2:
            raise LedgerError(
                f"a {self.kind} transaction needs two or more legs summing to zero, got "
                + ", ".join(f"{key} {amount}" for key, amount in legs)
            )


def account_ids(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """The accounts' ids by key, created when missing (safe against a concurrent creator)."""
    keys = set(keys)
    table = LedgerAccount.__table__
    found = dict(session.execute(select(table.c.key, table.c.id).where(table.c.key.in_(keys))).all())
    missing = sorted(keys - found.keys())
    if missing:
        moment = now()
        session.execute(
            _insert_ignore(session, table, "key"), [_account_row(key, moment) for key in missing]
        )
        found.update(session.execute(select(table.c.key, table.c.id).where(table.c.key.in_(missing))).all())
    return found


def _insert_ignore(session: Session, table, column: str):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=[column])


def _new_ids(session: Session, n: int) -> list[int]:
    """Ids for ``n`` transaction headers that are not written yet (their legs go first)."""
    if session.get_bind().dialect.name == "postgresql":
        return sorted(
            session.scalars(
                text(f"SELECT {NEXT_TRANSACTION_ID} FROM generate_series(1, :n)"),
                {"n": n},
            )
        )
    # SQLite: one writer at a time; our earlier writes in this transaction hold the lock
    # (and a racing writer would meet the primary key)
    last = session.scalar(select(func.max(LedgerTransaction.id))) or 0
    return list(range(last + 1, last + 1 + n))


def record(session: Session, postings: Sequence[Posting]) -> list[int]:
    """Write the given transactions (legs first, then the headers). Returns their ids."""
    if not postings:
        return []
    for p in postings:
        p.check()
    session.flush()
    ids = _new_ids(session, len(postings))
    accounts = account_ids(session, {key for p in postings for key, _ in p._clean})
    moment = now()
    legs = [
        {"transaction_id": tid, "account_id": accounts[key], "amount": amount}
        for tid, p in zip(ids, postings, strict=True)
        for key, amount in p._clean
    ]
    headers = [
        {
            "id": tid, "kind": str(p.kind), "booked_on": p.booked_on or today(), "actor": p.actor,
            "description": p.description, "customer_id": p.customer_id,
            "service_id": p.service_id, "invoice_id": p.invoice_id,
            "bank_transaction_id": p.bank_transaction_id, "allocation_id": p.allocation_id,
            "reverses_id": p.reverses_id, "reference": p.reference, "created_at": moment,
        }
        for tid, p in zip(ids, postings, strict=True)
    ]
    if len(legs) > 1000 and session.get_bind().dialect.name == "postgresql":
        bulk_insert(session, LedgerLeg.__table__, legs)
        bulk_insert(session, LedgerTransaction.__table__, headers)
    else:
        session.execute(insert(LedgerLeg.__table__), legs)
        session.execute(insert(LedgerTransaction.__table__), headers)
    return ids


# -- invoices ------------------------------------------------------------------------------


def invoice_posting(invoice: Invoice, actor: str = "system",
                    credit_line: tuple[int, Decimal] | None = None) -> Posting:
    """The transaction of an issued invoice (see docs/ledger.md for each kind's legs)."""
    c = invoice.customer_id
    if invoice.kind == "credit_note":  # total, net and VAT are negative
        kind = TK.CREDIT_NOTE
        legs = [(account_key(A.PREPAID_CREDIT, c), invoice.total),
                (account_key(A.REVENUE), -invoice.total_net),
                (account_key(A.OUTPUT_VAT), -invoice.total_vat)]
    elif invoice.kind == "advance":  # a payment request: no tax document, no revenue yet
        kind = TK.INVOICE
        legs = [(account_key(A.RECEIVABLE, c), invoice.total),
                (account_key(A.ADVANCES), -invoice.total)]
    else:
        kind = TK.VOIP_TOPUP if credit_line else TK.INVOICE
        legs = [(account_key(A.RECEIVABLE, c), invoice.total),
                (account_key(A.REVENUE), -invoice.total_net),
                (account_key(A.OUTPUT_VAT), -invoice.total_vat)]
    service_id = None
    if credit_line is not None:
        service_id, amount = credit_line
        legs += [(account_key(A.VOIP_LINE_CREDIT, service_id), -amount),
                 (account_key(A.VOIP_PREPAID), amount)]
    label = "Dobropis" if invoice.kind == "credit_note" else "Faktura"
    return Posting(
        kind, legs, booked_on=invoice.issue_date, actor=actor,
        description=f"{label} {invoice.number}", customer_id=c, service_id=service_id,
        invoice_id=invoice.id,
    )


def post_invoice(session: Session, invoice: Invoice, actor: str = "system",
                 credit_line: tuple[int, Decimal] | None = None) -> int:
    """Post an issued invoice or credit note; ``credit_line=(service id, amount)`` adds a
    VoIP coupon's credit to that line in the same transaction."""
    return record(session, [invoice_posting(invoice, actor, credit_line)])[0]


def post_final_invoice(session: Session, invoice: Invoice, *, supply_net: Decimal,
                       supply_vat: Decimal, advances_total: Decimal, actor: str = "system",
                       closed_rest: Decimal = Decimal("0.00")) -> int:
    """A final invoice that deducts advances (billing.invoicing.settlement): revenue and VAT
    of the whole supply, the paid advances (their gross ``advances_total``) leave the
    advances account, and the difference (``invoice.total``, supply minus advances) is owed
    (receivable ``+``) or, when negative, becomes the customer's credit (prepaid credit).

    ``closed_rest``: the unpaid rest of partly paid requests that this invoice closes; it
    leaves the advances account too and waits on the prepaid credit for the closing
    allocations (prepaid credit -> receivable of the requests), which the caller posts."""
    c = invoice.customer_id
    side = A.RECEIVABLE if invoice.total >= 0 else A.PREPAID_CREDIT
    legs = [(account_key(side, c), invoice.total),
            (account_key(A.ADVANCES), _money(advances_total) + _money(closed_rest)),
            (account_key(A.REVENUE), -_money(supply_net)),
            (account_key(A.OUTPUT_VAT), -_money(supply_vat))]
    if closed_rest:
        if side == A.PREPAID_CREDIT:  # one leg per account
            legs[0] = (legs[0][0], invoice.total - _money(closed_rest))
        else:
            legs.append((account_key(A.PREPAID_CREDIT, c), -_money(closed_rest)))
    return record(session, [Posting(
        TK.INVOICE, legs, booked_on=invoice.issue_date, actor=actor,
        description=f"Faktura {invoice.number} (vyúčtování záloh)", customer_id=c,
        invoice_id=invoice.id,
    )])[0]


# -- payments and their settlement ---------------------------------------------------------


def payment_description(variable_symbol: str | None, specific_symbol: str | None) -> str:
    return f"Platba VS {variable_symbol or '-'} SS {specific_symbol or '-'}"


def post_payments(session: Session, payments: Sequence[tuple], actor: str,
                  applied: dict[int, Decimal] | None = None) -> list[int]:
    """Paired payments ``[(bank transaction, customer id), ...]``: the money is on our bank
    account and the customer's prepaid credit until settlement applies it.

    ``applied``: bank transaction id -> what the settlement of the same pairing applied of
    it to invoices (its allocations get no ``allocation`` transactions of their own): that
    part settles the receivable in the payment's own transaction, the rest is credit
    (bank clearing ``+amount``, receivable ``-applied``, prepaid credit ``-rest``)."""
    applied = applied or {}
    return record(session, [
        Posting(
            TK.PAYMENT,
            [(account_key(A.BANK_CLEARING), tx.amount),
             (account_key(A.RECEIVABLE, owner), -applied.get(tx.id, ZERO)),
             (account_key(A.PREPAID_CREDIT, owner), applied.get(tx.id, ZERO) - tx.amount)],
            booked_on=tx.booked_on, actor=actor,
            description=payment_description(tx.variable_symbol, tx.specific_symbol),
            customer_id=owner, bank_transaction_id=tx.id,
        )
        for tx, owner in payments
    ])


def post_allocations(session: Session, allocations: Sequence[dict], actor: str) -> list[int]:
    """Allocations just written (``id, customer_id, invoice_id, amount`` and the source):
    each moves its amount from the customer's prepaid credit to settle the receivable."""
    booked = today()
    return record(session, [
        Posting(
            TK.ALLOCATION,
            [(account_key(A.PREPAID_CREDIT, a["customer_id"]), a["amount"]),
             (account_key(A.RECEIVABLE, a["customer_id"]), -a["amount"])],
            # the allocation row names the invoice and the source
            booked_on=booked, actor=actor, customer_id=a["customer_id"], allocation_id=a["id"],
        )
        for a in allocations
    ])


def post_cash_payment(session: Session, tx, customer_id: int, receipt_number: str,
                      actor: str) -> int:
    """Cash taken at the till (``tx``: its movement on the till's pseudo-account, see
    billing/models/cash.py): the money is in the till and on the customer's prepaid credit
    until settlement applies it, exactly like a bank payment."""
    return record(session, [Posting(
        TK.PAYMENT,
        [(account_key(A.CASH), tx.amount),
         (account_key(A.PREPAID_CREDIT, customer_id), -tx.amount)],
        booked_on=tx.booked_on, actor=actor, description=f"Hotovost, doklad {receipt_number}",
        customer_id=customer_id, bank_transaction_id=tx.id, reference=receipt_number,
    )])[0]


def post_cash_cancellation(session: Session, tx, customer_id: int, reopened: Decimal, *,
                           reverses_id: int, number: str, actor: str) -> int:
    """Cancel a cash payment (billing/cash/cancellation.py): what it had settled is owed
    again (``reopened``), the rest leaves the customer's credit, and the money leaves the
    till: the payment's legs and its allocations' legs, reversed in one transaction."""
    return record(session, [Posting(
        TK.REVERSAL,
        [(account_key(A.RECEIVABLE, customer_id), reopened),
         (account_key(A.PREPAID_CREDIT, customer_id), tx.amount - reopened),
         (account_key(A.CASH), -tx.amount)],
        booked_on=today(), actor=actor, description=f"Storno pokladního dokladu {tx.bank_tx_id}"
        f" dokladem {number}", customer_id=customer_id, bank_transaction_id=tx.id,
        reverses_id=reverses_id, reference=number,
    )])[0]


def post_unpairing(session: Session, tx, customer_id: int, reopened: Decimal, *,
                   reverses_id: int, actor: str, description: str) -> int:
    """Undo a paired payment: what it had settled is owed again (``reopened``), and the
    money leaves the customer's credit and the bank clearing account."""
    return record(session, [Posting(
        TK.REVERSAL,
        [(account_key(A.RECEIVABLE, customer_id), reopened),
         (account_key(A.PREPAID_CREDIT, customer_id), tx.amount - reopened),
         (account_key(A.BANK_CLEARING), -tx.amount)],
        booked_on=today(), actor=actor, description=description, customer_id=customer_id,
        bank_transaction_id=tx.id, reverses_id=reverses_id,
    )])[0]


def reverse(session: Session, entry, description: str = "", actor: str = "system") -> int:
    """A transaction with every leg of ``entry`` (a transaction, a ledger entry or an id)
    negated; the original stays."""
    transaction_id = entry if isinstance(entry, int) else entry.id
    original = session.get(LedgerTransaction, transaction_id)
    if original is None:
        raise LedgerError(f"no ledger transaction {transaction_id}")
    legs = session.execute(
        select(LedgerAccount.key, LedgerLeg.amount)
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerLeg.transaction_id == transaction_id)
        .order_by(LedgerLeg.id)
    ).all()
    return record(session, [Posting(
        TK.REVERSAL, [(key, -amount) for key, amount in legs], booked_on=today(), actor=actor,
        description=description or f"storno #{transaction_id}",
        customer_id=original.customer_id, service_id=original.service_id,
        invoice_id=original.invoice_id, bank_transaction_id=original.bank_transaction_id,
        reverses_id=transaction_id,
    )])[0]


def post(session: Session, customer_id: int, kind: str, amount, *, booked_on: date | None = None,
         invoice_id: int | None = None, bank_transaction_id: int | None = None,
         description: str = "", actor: str = "system") -> int:
    """A customer's movement by hand: ``payment`` (money received: bank clearing to their
    credit) or ``opening`` (an opening balance: + credit, - debt)."""
    amount = _money(amount)
    if kind == TK.PAYMENT:
        legs = [(account_key(A.BANK_CLEARING), amount),
                (account_key(A.PREPAID_CREDIT, customer_id), -amount)]
    elif kind == TK.OPENING:
        side = A.PREPAID_CREDIT if amount > 0 else A.RECEIVABLE
        legs = [(account_key(side, customer_id), -amount),
                (account_key(A.OPENING_BALANCE), amount)]
    else:
        raise LedgerError(f"post() books payments and opening balances, not {kind!r}")
    return record(session, [Posting(
        kind, legs, booked_on=booked_on, actor=actor, description=description,
        customer_id=customer_id, invoice_id=invoice_id, bank_transaction_id=bank_transaction_id,
    )])[0]


def balance(session: Session, customer_id: int) -> Decimal:
    """The customer's balance (negative = debt): see :mod:`billing.ledger.balances`."""
    return customer_balance(session, customer_id)


# -- VoIP lines ----------------------------------------------------------------------------


def post_opening_credit(session: Session, service_id: int, amount: Decimal, *,
                        customer_id: int | None = None, actor: str = "system",
                        booked_on: date | None = None) -> int | None:
    """A line's opening credit (the demo, a migrated line)."""
    amount = _money(amount)
    if amount == 0:
        return None
    return record(session, [Posting(
        TK.OPENING,
        [(account_key(A.VOIP_LINE_CREDIT, service_id), -amount),
         (account_key(A.OPENING_BALANCE), amount)],
        booked_on=booked_on, actor=actor, description="Počáteční kredit",
        customer_id=customer_id, service_id=service_id,
    )])[0]


def post_opening_debt(session: Session, customer_id: int, amount: Decimal, *,
                      actor: str = "system", booked_on: date | None = None) -> int | None:
    """A customer's debt carried over from the old system (``ispzone import``'s
    ``opening_balance`` below zero): the customer's receivable, against opening_balance.
    It is in the customer's balance but is no invoice: nothing is due on a day, so the
    enforcement sweep does not chase it (import the unpaid invoices for that)."""
    amount = _money(amount)
    if amount <= 0:
        return None
    return record(session, [Posting(
        TK.OPENING,
        [(account_key(A.RECEIVABLE, customer_id), amount),
         (account_key(A.OPENING_BALANCE), -amount)],
        booked_on=booked_on, actor=actor, description="Počáteční dluh z původního systému",
        customer_id=customer_id,
    )])[0]


def post_call_charges(session: Session, charged: dict[int, Decimal], *, reference: str,
                      actor: str) -> int | None:
    """The calls of one CDR import, ``{service id: total cost}``: one transaction."""
    charged = {sid: _money(total) for sid, total in sorted(charged.items()) if total}
    if not charged:
        return None
    legs = [(account_key(A.VOIP_LINE_CREDIT, sid), total) for sid, total in charged.items()]
    legs.append((account_key(A.VOIP_PREPAID), -sum(charged.values(), ZERO)))
    return record(session, [Posting(
        TK.VOIP_CALLS, legs, actor=actor, description="Hovorné", reference=reference,
    )])[0]


# -- set-based (PostgreSQL) ----------------------------------------------------------------

# the next id of a ledger transaction: sources of :func:`post_staged` draw their ids with it
# when they are staged (no copy of the postings into a table of their own). The sequence is
# looked up once per statement (an uncorrelated subquery): pg_get_serial_sequence() per row
# searched the catalog 100,000 times for a statement's payments (0.9 s of CPU)
NEXT_TRANSACTION_ID = next_serial_sql("ledger_transaction")
STAGED_COLUMNS = (
    "tid, customer_id, booked_on, amount, debit_key, credit_key, description, invoice_id, "
    "bank_transaction_id, allocation_id, split_key, split_amount"
)
# the legs of a staged posting ``s``; a leg of 0 is left out
_STAGED_LEGS = (
    "CROSS JOIN LATERAL (VALUES (s.debit_key, s.amount), "
    "(s.credit_key, s.split_amount - s.amount), (s.split_key, -s.split_amount)) "
    "AS x(key, amount)"
)


def post_staged(session: Session, kind: str, source_sql: str, params: dict, actor: str) -> int:
    """Post one transaction per row of ``source_sql`` (PostgreSQL): ``amount`` from the
    account ``credit_key`` to ``debit_key``, of which ``split_amount`` (0 for none) from
    ``split_key`` instead (a payment that settles invoices at once: bank clearing
    ``+amount``, receivable ``-applied``, prepaid credit ``-rest``). The query selects
    :data:`STAGED_COLUMNS`; ``tid`` is the transaction's id, drawn from the sequence with
    :data:`NEXT_TRANSACTION_ID` when the rows were staged (each id once; rows of amount 0
    are skipped). The query is read twice (legs with the accounts they lack, headers), so it
    should read tables the caller filled. Set-based: two statements for any number of
    rows. Returns the number of transactions."""
    kind = str(TK(kind))
    session.flush()
    source = f"(SELECT * FROM ({source_sql}) AS q WHERE q.amount <> 0)"
    moment = now()
    customer_kinds = ", ".join(f"'{k}'" for k in CUSTOMER_ACCOUNTS + CREDIT_ACCOUNTS)
    line_kinds = ", ".join(f"'{k}'" for k in LINE_ACCOUNTS)
    # the source is read once for the legs: each leg's account looked up by its key, the
    # accounts missing so far created in the same statement (a concurrent creator's row is
    # taken: DO UPDATE returns it where DO NOTHING would return nothing)
    session.execute(
        text(
            "WITH legs AS MATERIALIZED ("
            f" SELECT s.tid, x.key, x.amount, a.id AS account_id FROM {source} AS s {_STAGED_LEGS} "
            " LEFT JOIN ledger_account a ON a.key = x.key WHERE x.amount <> 0), "
            "created AS ("
            " INSERT INTO ledger_account (key, kind, customer_id, service_id, created_at) "
            " SELECT k, split_part(k, ':', 1), "
            f" CASE WHEN split_part(k, ':', 1) IN ({customer_kinds}) "
            " THEN split_part(k, ':', 2)::integer END, "
            f" CASE WHEN split_part(k, ':', 1) IN ({line_kinds}) "
            " THEN split_part(k, ':', 2)::integer END, :moment "
            " FROM (SELECT DISTINCT key AS k FROM legs WHERE account_id IS NULL) AS keys "
            " ORDER BY k ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING id, key) "
            "INSERT INTO ledger_leg (transaction_id, account_id, amount) "
            "SELECT l.tid, coalesce(l.account_id, c.id), l.amount FROM legs l "
            "LEFT JOIN created c ON l.account_id IS NULL AND c.key = l.key ORDER BY l.tid"
        ),
        {**params, "moment": moment},
    )
    return session.execute(
        text(
            "INSERT INTO ledger_transaction (id, kind, booked_on, actor, description, "
            "customer_id, invoice_id, bank_transaction_id, allocation_id, created_at) "
            "SELECT tid, :kind, booked_on, :actor, coalesce(description, ''), customer_id, "
            f"invoice_id, bank_transaction_id, allocation_id, :moment FROM {source} AS s "
            "ORDER BY tid"
        ),
        {**params, "kind": kind, "actor": actor, "moment": moment},
    ).rowcount

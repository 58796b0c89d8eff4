"""Importing a bank statement: parse, store each movement once, pair the new ones.

The whole file is one transaction: a malformed line rejects the file (StatementError with
the line number) and nothing is written. Each movement is keyed by (our account, the bank's
movement id): re-importing a file, importing an overlapping one, or the same file from two
processes at once stores nothing twice (INSERT ... ON CONFLICT DO NOTHING on the unique key;
a concurrent importer waits on the key and then skips it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing import audit
from billing.clock import now
from billing.db import bulk_insert, is_in
from billing.models import BankTransaction, StatementImport
from billing.payments import pair_many
from billing.statements import (
    ParsedStatement,
    StatementError,
    national_account,
    parse_statement,
)

CHUNK = 20000

__all__ = ["ImportReport", "StatementError", "import_statement", "store_statement"]


@dataclass(frozen=True)
class ImportReport:
    file_format: str
    account: str
    total: int
    new: int
    duplicates: int
    matched: int
    unmatched: int
    outgoing: int

    def __str__(self) -> str:
        return (
            f"{self.file_format} statement of {self.account}: {self.total} movements, "
            f"{self.new} new ({self.matched} paired, {self.unmatched} unmatched, "
            f"{self.outgoing} outgoing), {self.duplicates} already imported"
        )


def import_statement(
    session: Session,
    data: bytes,
    filename: str,
    fmt: str | None = None,
    actor: str = "system",
    bank_code: str | None = None,
) -> ImportReport:
    """Parse ``data`` and store + pair its movements. Raises StatementError; caller commits.

    ``bank_code`` completes our account number where the format does not carry it (GPC),
    so that one account has one key whichever format its statements come in.
    """
    parsed = parse_statement(data, fmt)
    account = national_account(parsed.account) or parsed.account
    if "/" not in account and bank_code:
        account = f"{account}/{bank_code}"
    parsed.account = account
    return store_statement(session, parsed, filename, hashlib.sha256(data).hexdigest(), actor)


def store_statement(
    session: Session, parsed: ParsedStatement, filename: str, sha256: str, actor: str = "system"
) -> ImportReport:
    record = StatementImport(
        filename=filename[-300:], file_format=parsed.format, sha256=sha256, account=parsed.account
    )
    session.add(record)
    session.flush()
    new_ids: list[int] = []
    for start in range(0, len(parsed.transactions), CHUNK):
        chunk = parsed.transactions[start : start + CHUNK]
        new_ids.extend(_insert_new(session, parsed.account, chunk, record.id))
    new_txs = []
    columns = (
        BankTransaction.id,
        BankTransaction.amount,
        BankTransaction.booked_on,
        BankTransaction.variable_symbol,
        BankTransaction.specific_symbol,
    )
    for start in range(0, len(new_ids), CHUNK):
        ids = new_ids[start : start + CHUNK]
        new_txs.extend(
            session.execute(
                select(*columns).where(is_in(session, BankTransaction.id, ids)).order_by(BankTransaction.id)
            )
        )
    counts = pair_many(session, new_txs, actor)
    record.new_transactions = len(new_ids)
    record.duplicate_transactions = len(parsed.transactions) - len(new_ids)
    audit.record(
        session,
        "statement.imported",
        actor=actor,
        new_value=filename[-200:],
        details={"format": parsed.format, "account": parsed.account, "new": len(new_ids), **counts},
    )
    session.flush()
    return ImportReport(
        parsed.format,
        parsed.account,
        len(parsed.transactions),
        len(new_ids),
        record.duplicate_transactions,
        counts["matched"],
        counts["unmatched"],
        counts["outgoing"],
    )


def _insert_new(session: Session, account: str, chunk, import_id: int) -> list[int]:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    seen: set[str] = set()
    created = now()
    rows = []
    for tx in chunk:
        if tx.bank_tx_id in seen:  # the same movement twice within one file
            continue
        seen.add(tx.bank_tx_id)
        rows.append(
            {
                "source_account": account,
                "bank_tx_id": tx.bank_tx_id,
                "booked_on": tx.booked_on,
                "amount": tx.amount,
                "currency": tx.currency,
                "variable_symbol": tx.variable_symbol,
                "specific_symbol": tx.specific_symbol,
                "constant_symbol": tx.constant_symbol,
                "counter_account": tx.counter_account,
                "counter_name": tx.counter_name,
                "message": tx.message,
                "status": "unmatched",
                "statement_import_id": import_id,
                "created_at": created,
            }
        )
    if not rows:
        return []
    table = BankTransaction.__table__
    if dialect == "postgresql":
        return _insert_new_pg(session, rows)
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source_account", "bank_tx_id"])
        .returning(table.c.id)
    )
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    return list(session.connection().execute(stmt, rows).scalars())


def _insert_new_pg(session: Session, rows: list[dict]) -> list[int]:
    """COPY into a temporary table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING."""
    from sqlalchemy import text

    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS bank_tx_incoming "
            "(LIKE bank_transaction INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    )
    session.execute(text("TRUNCATE bank_tx_incoming"))
    bulk_insert(session, "bank_tx_incoming", rows)
    columns = ", ".join(rows[0])
    result = session.execute(
        text(
            f"INSERT INTO bank_transaction ({columns}) "
            f"SELECT {columns} FROM bank_tx_incoming ORDER BY id "
            "ON CONFLICT (source_account, bank_tx_id) DO NOTHING RETURNING id"
        )
    )
    return sorted(result.scalars())


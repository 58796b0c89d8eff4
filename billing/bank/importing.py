"""Importing a bank statement: parse, store each movement once, pair the new ones.

The whole file is one transaction: a malformed line rejects the file (StatementError with
the line number) and nothing is written. Each movement is keyed by (our account, the bank's
movement id): re-importing a file, importing an overlapping one, or the same file from two
processes at once stores nothing twice. SQLite: INSERT ... ON CONFLICT DO NOTHING on the
unique key (its writers are serialised anyway). PostgreSQL: importers of one account take
turns on a transaction-scoped advisory lock, so the second waits for the first to commit and
then finds its movements stored; the file is COPYed into a temporary table and stored,
resolved and paired by a few set-based statements (billing.bank.pairing_pg).

A new incoming payment that looks like a movement already stored from a statement in another
format (same account, booking date, amount, VS and SS; KS and counter-account equal where
both files state them; another id) is stored as a suspected duplicate (``duplicate_of``)
and held in the unmatched queue instead of paired: the same payment imported from a GPC and
a camt.053 statement must not pay twice (docs/bank-statements.md).

Files over ``max_bytes`` (the setting STATEMENT_MAX_BYTES, 50 MiB by default) are refused
before they are read (:func:`check_size`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from billing.bank.pairing import pair_many
from billing.bank.pairing_pg import (
    BATCH_COLUMNS,
    BATCH_TID,
    BIG_BATCH,
    RESOLVE_DIRECTED,
    RESOLVE_JOINS,
    RESOLVE_OWNER,
    RESOLVE_STATUS,
    pair_staged_batch,
    plan_for_big_batch,
    start_pairing_batch,
)
from billing.bank.statements import (
    DERIVED_PREFIX,
    ParsedStatement,
    StatementError,
    national_account,
    parse_statement,
)
from billing.models import BankTransaction, StatementImport
from core import audit
from core.clock import now
from core.db import is_in
from core.i18n import _l
from core.i18n import number as shown_number

CHUNK = 20000
INSERT_CHUNK = 5000  # rows as dicts: a small batch at a time (memory)
CENT = Decimal("0.01")
MAX_BYTES = 50 * 1024 * 1024  # the default of the setting STATEMENT_MAX_BYTES

__all__ = [
    "MAX_BYTES",
    "ImportReport",
    "StatementCheck",
    "StatementError",
    "check_size",
    "check_statement",
    "import_statement",
    "store_statement",
]


def check_size(size: int, max_bytes: int | None = MAX_BYTES) -> None:
    """Refuse a statement file of more than ``max_bytes`` bytes (None: no limit)."""
    if max_bytes is not None and size > max_bytes:
        raise StatementError(_l(
            "the file has %(size)s bytes, more than the %(max)s a statement may have "
            "(setting STATEMENT_MAX_BYTES); split the period into several statements",
            size=shown_number(size, text=f"{size:,}"), max=shown_number(max_bytes, text=f"{max_bytes:,}")))


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
    held: int = 0  # of the unmatched: suspected duplicates of movements from other files

    def __str__(self) -> str:
        held = (
            f", of them {self.held} held as suspected duplicates of movements imported "
            "from another file (see payments unmatched)"
            if self.held
            else ""
        )
        return (
            f"{self.file_format} statement of {self.account}: {self.total} movements, "
            f"{self.new} new ({self.matched} paired, {self.unmatched} unmatched{held}, "
            f"{self.outgoing} outgoing), {self.duplicates} already imported"
        )


def import_statement(
    session: Session,
    data: bytes | Path,
    filename: str,
    fmt: str | None = None,
    actor: str = "system",
    bank_code: str | None = None,
    own_accounts: Sequence[str] | None = None,
    max_bytes: int | None = MAX_BYTES,
    on_parsed: Callable[[ParsedStatement], None] | None = None,
) -> ImportReport:
    """Parse ``data`` and store + pair its movements. Raises StatementError; caller commits.

    ``bank_code`` completes our account number where the format does not carry it (GPC),
    so that one account has one key whichever format its statements come in.
    ``own_accounts``: when given, a statement of any other account is refused (its payments
    are not ours to pair); a GPC account without bank code takes the code of the one of
    ours with that number. ``max_bytes``: larger files are refused (None: no limit).
    ``data``: the file's bytes, or its path (GPC and Fio CSV are then read line by line,
    never held whole: docs/bank-statements.md, "Size").
    ``on_parsed(parsed)``: called once the file is parsed and its account checked, before
    anything is written (the console's upload job reports its phase there).
    """
    parsed, sha256 = _read(data, fmt, max_bytes)
    parsed.account = _our_account(parsed, bank_code, own_accounts)
    if on_parsed is not None:
        on_parsed(parsed)
    return store_statement(session, parsed, filename, sha256, actor, release=True)


@dataclass(frozen=True)
class StatementCheck:
    """What :func:`check_statement` found: the file parses and is of one of our accounts."""

    file_format: str
    account: str
    movements: int
    sha256: str


def check_statement(
    data: bytes | Path,
    fmt: str | None = None,
    bank_code: str | None = None,
    own_accounts: Sequence[str] | None = None,
    max_bytes: int | None = MAX_BYTES,
) -> StatementCheck:
    """The checks of :func:`import_statement` without the database: size, format, every
    line (StatementError with the line number), the account. The console runs it before
    it accepts an upload, so that a broken file is refused at once and nothing is stored;
    parsing is the cheap part of an import (docs/bank-statements.md, "Upload")."""
    parsed, sha256 = _read(data, fmt, max_bytes)
    account = _our_account(parsed, bank_code, own_accounts)
    return StatementCheck(parsed.format, account, len(parsed.transactions), sha256)


def _read(data: bytes | Path, fmt: str | None, max_bytes: int | None):
    """The parsed statement and the file's SHA-256 (size checked first)."""
    if isinstance(data, Path):
        check_size(data.stat().st_size, max_bytes)
        digest = hashlib.sha256()
        with data.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
            file.seek(0)
            parsed = parse_statement(file, fmt)
        return parsed, digest.hexdigest()
    check_size(len(data), max_bytes)
    return parse_statement(data, fmt), hashlib.sha256(data).hexdigest()


def _our_account(parsed: ParsedStatement, bank_code: str | None,
                 own_accounts: Sequence[str] | None) -> str:
    """The statement's account as it is keyed (with its bank code); StatementError when
    ``own_accounts`` is given and it is not one of them."""
    account = national_account(parsed.account) or parsed.account
    if own_accounts is not None:
        ours = [national_account(a) or a for a in own_accounts if a and a.strip()]
        found = [a for a in ours if _same_account(account, a)]
        if not found:
            raise StatementError(_l(
                "the statement is of account %(account)s, which is not one of ours "
                "(%(ours)s; setting BANK_ACCOUNTS)", account=account or "-",
                ours=", ".join(ours) or "-"))
        if "/" not in account and "/" in found[0]:
            bank_code = found[0].rsplit("/", 1)[1]
    if "/" not in account and bank_code:
        account = f"{account}/{bank_code}"
    return account


def _same_account(a: str, b: str) -> bool:
    """Equal national accounts; a side without a bank code (GPC) matches on the number."""
    number_a, _, code_a = a.partition("/")
    number_b, _, code_b = b.partition("/")
    return number_a == number_b and (not code_a or not code_b or code_a == code_b)


def store_statement(
    session: Session,
    parsed: ParsedStatement,
    filename: str,
    sha256: str,
    actor: str = "system",
    release: bool = False,
) -> ImportReport:
    """Store ``parsed`` and pair its new movements. ``release``: empty
    ``parsed.transactions`` as soon as they are stored, so that their memory serves the
    pairing (a statement of 50 MB holds hundreds of thousands of them)."""
    total = len(parsed.transactions)
    record = StatementImport(
        filename=filename[-300:], file_format=parsed.format, sha256=sha256, account=parsed.account
    )
    session.add(record)
    session.flush()
    # held: the new movements marked as suspected duplicates; none unless the search for
    # lookalikes ran (usually it does not: the first import of a period). Counted among the
    # new movements themselves, not by statement_import_id (no index: a scan of every
    # movement ever imported, and an index only for this would cost every insert)
    if session.get_bind().dialect.name == "postgresql":
        new_count, searched = _store_resolved_pg(session, parsed, record.id, release)
        counts = pair_staged_batch(session, actor, update_transactions=False)
        held = session.scalar(text(_HELD_PG)) if searched else 0
    else:
        new_count, counts, held = _store_and_pair(session, parsed, record.id, actor, release)
    counts = {**counts, "held": held}
    record.new_transactions = new_count
    record.duplicate_transactions = total - new_count
    audit.record(
        session,
        "statement.imported",
        actor=actor,
        new_value=filename[-200:],
        details={"format": parsed.format, "account": parsed.account, "new": new_count, **counts},
    )
    session.flush()
    return ImportReport(
        parsed.format,
        parsed.account,
        total,
        new_count,
        record.duplicate_transactions,
        counts["matched"],
        counts["unmatched"],
        counts["outgoing"],
        held,
    )


def _insert_new(session: Session, account: str, chunk, import_id: int) -> list[int]:
    insert = sqlite.insert
    seen: set[str] = set()
    created = now()
    rows = []
    for tx in chunk:
        if tx.bank_tx_id in seen:  # the parsers refuse this; a caller's own list may not
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
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["source_account", "bank_tx_id"])
        .returning(table.c.id)
    )
    # executemany + RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    return list(session.connection().execute(stmt, rows).scalars())


class _Stored:
    """A stored movement as pairing needs it (pair_many reads these attributes); a light
    object: a 50 MB statement has hundreds of thousands of them."""

    __slots__ = ("id", "amount", "currency", "booked_on", "variable_symbol", "specific_symbol",
                 "duplicate_of")

    def __init__(self, *values) -> None:
        (self.id, self.amount, self.currency, self.booked_on, self.variable_symbol,
         self.specific_symbol, self.duplicate_of) = values


def _store_and_pair(
    session: Session, parsed: ParsedStatement, import_id: int, actor: str, release: bool
):
    """Store the new movements, read them back and pair them (the portable path)."""
    new_ids: list[int] = []
    days = _payment_days(parsed)
    for start in range(0, len(parsed.transactions), INSERT_CHUNK):
        chunk = parsed.transactions[start : start + INSERT_CHUNK]
        new_ids.extend(_insert_new(session, parsed.account, chunk, import_id))
    if release:
        parsed.transactions.clear()
    if new_ids and _may_have_lookalikes(session, parsed.account, days, import_id):
        session.execute(
            text(
                "UPDATE bank_transaction SET duplicate_of = ("
                " SELECT min(k.id) FROM bank_transaction k"
                " LEFT JOIN statement_import si ON si.id = k.statement_import_id"
                f" WHERE {_LOOKALIKE.format(t='bank_transaction')}"
                ") WHERE statement_import_id = :import_id AND amount > 0"
            ),
            {"import_id": import_id, "fmt": parsed.format, "noid": f"{DERIVED_PREFIX}%"},
        )
    new_txs: list[_Stored] = []
    columns = (
        BankTransaction.id,
        BankTransaction.amount,
        BankTransaction.currency,
        BankTransaction.booked_on,
        BankTransaction.variable_symbol,
        BankTransaction.specific_symbol,
        BankTransaction.duplicate_of,
    )
    shared: dict = {}  # amounts, currencies and days repeat: one object each (at most 20,000)

    def share(value):
        found = shared.get(value, shared)
        if found is not shared:
            return found
        if len(shared) < 20000:
            shared[value] = value
        return value

    for start in range(0, len(new_ids), CHUNK):
        ids = new_ids[start : start + CHUNK]
        rows = session.execute(
            select(*columns).where(is_in(session, BankTransaction.id, ids)).order_by(BankTransaction.id)
        )
        for tx_id, amount, currency, day, vs, ss, duplicate_of in rows:
            new_txs.append(
                _Stored(tx_id, share(amount), share(currency), share(day), vs, ss, duplicate_of)
            )
    new_count = len(new_ids)
    del new_ids
    shared.clear()
    held = sum(1 for tx in new_txs if tx.duplicate_of is not None)
    return new_count, pair_many(session, new_txs, actor), held


# A stored movement ``k`` that the new movement ``t`` looks like: the same account, day,
# amount, VS and SS; KS and counter-account equal where both state them; not the movement
# itself, not from this import, not a suspected duplicate itself; from a statement in another
# format (or, in the same format, one of the two has a bank id and the other has none; the
# same format gives one movement the same id, so two bank ids there are two payments).
_LOOKALIKE = """k.source_account = {t}.source_account AND k.booked_on = {t}.booked_on
     AND k.amount = {t}.amount AND k.bank_tx_id <> {t}.bank_tx_id
     AND coalesce(k.variable_symbol, '') = coalesce({t}.variable_symbol, '')
     AND coalesce(k.specific_symbol, '') = coalesce({t}.specific_symbol, '')
     AND (k.constant_symbol IS NULL OR {t}.constant_symbol IS NULL
          OR k.constant_symbol = {t}.constant_symbol)
     AND (k.counter_account IS NULL OR {t}.counter_account IS NULL
          OR k.counter_account = {t}.counter_account)
     AND k.duplicate_of IS NULL AND k.amount > 0
     AND (k.statement_import_id IS NULL OR k.statement_import_id <> :import_id)
     AND (coalesce(si.file_format, '') <> :fmt
          OR (k.bank_tx_id LIKE :noid) <> ({t}.bank_tx_id LIKE :noid))"""


def _payment_days(parsed: ParsedStatement) -> tuple | None:
    """The first and last day of the statement's incoming payments (None: there are none)."""
    days = {tx.booked_on for tx in parsed.transactions if tx.amount > 0}
    return (min(days), max(days)) if days else None


def _may_have_lookalikes(session: Session, account: str, days, import_id: int) -> bool:
    """Whether any movement of the account from another import falls in the file's days
    (else the search is skipped: the usual first import of a period)."""
    if days is None:
        return False
    return (
        session.scalar(
            select(BankTransaction.id)
            .where(
                BankTransaction.source_account == account,
                BankTransaction.booked_on.between(*days),
                (BankTransaction.statement_import_id.is_(None))
                | (BankTransaction.statement_import_id != import_id),
            )
            .limit(1)
        )
        is not None
    )


# -- PostgreSQL: COPY the file into a temporary table, insert the new movements already
# resolved (status, owner) and stage them for the set-based pairing in billing.bank.pairing.

_INCOMING_COLUMNS = (
    "id, source_account, bank_tx_id, booked_on, amount, currency, variable_symbol, "
    "specific_symbol, constant_symbol, counter_account, counter_name, message, status, "
    "statement_import_id, created_at"
)
_STORED_COLUMNS = _INCOMING_COLUMNS.replace("id, ", "", 1) + ", duplicate_of"


# advisory lock namespace for "statements of one account are imported one at a time"
_LOCK_NAMESPACE = 0x15F20001


# the held movements among the new ones (all staged in pairing_batch; a held one is
# unmatched): primary-key lookups of the batch's unmatched rows
_HELD_PG = (
    "SELECT count(*) FROM pairing_batch b JOIN bank_transaction t ON t.id = b.tx_id "
    "WHERE b.status = 'unmatched' AND t.duplicate_of IS NOT NULL"
)


def _store_resolved_pg(
    session: Session, parsed: ParsedStatement, import_id: int, release: bool
) -> tuple[int, bool]:
    """Insert the file's new movements, resolved, and stage them in ``pairing_batch``.

    Each key once: importers of one account take turns (a transaction-scoped advisory lock
    on the account), so an anti-join leaves out the movements already stored (committed by
    whoever imported them) and the rest go in with a plain INSERT (ON CONFLICT's
    speculative insertion cost 15 % more per row). A concurrent importer of the same file
    waits for the first to commit, then finds everything stored. Returns how many were new
    and whether the search for lookalikes (suspected duplicates) ran.
    """
    big = len(parsed.transactions) >= BIG_BATCH
    session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:account))"),
        {"namespace": _LOCK_NAMESPACE, "account": parsed.account},
    )
    session.execute(
        text("CREATE TEMP TABLE IF NOT EXISTS bank_tx_incoming (LIKE bank_transaction) ON COMMIT DROP")
    )
    session.execute(text("TRUNCATE bank_tx_incoming"))
    days = _payment_days(parsed)
    _copy_incoming(session, parsed, import_id)
    if release:
        parsed.transactions.clear()
    if big:
        plan_for_big_batch(session, "bank_tx_incoming")
    searched = _may_have_lookalikes(session, parsed.account, days, import_id)
    if searched:
        session.execute(
            text(
                "UPDATE bank_tx_incoming u SET duplicate_of = d.k_id FROM ("
                " SELECT t.id AS position, min(k.id) AS k_id"
                " FROM bank_tx_incoming t JOIN bank_transaction k"
                "  ON k.source_account = t.source_account AND k.booked_on = t.booked_on"
                "  AND k.amount = t.amount"
                " LEFT JOIN statement_import si ON si.id = k.statement_import_id"
                f" WHERE {_LOOKALIKE.format(t='t')} AND t.amount > 0"
                " GROUP BY t.id) d WHERE u.id = d.position"
            ),
            {"import_id": import_id, "fmt": parsed.format, "noid": f"{DERIVED_PREFIX}%"},
        )
    start_pairing_batch(session)
    # new ids in file order (t.id is the position in the file): nextval over sorted rows;
    # the inserts read the materialized rows in that order (no sort of their own)
    result = session.execute(
        text(
            "WITH resolved AS MATERIALIZED ("
            "  SELECT nextval('bank_transaction_id_seq') AS new_id, r.* FROM ("
            f"   SELECT t.*, {RESOLVE_STATUS} AS r_status, {RESOLVE_OWNER} AS r_owner,"
            f"    {RESOLVE_DIRECTED} AS r_directed"
            f"   FROM bank_tx_incoming t {RESOLVE_JOINS}"
            "   WHERE NOT EXISTS (SELECT FROM bank_transaction k"
            "    WHERE k.source_account = t.source_account AND k.bank_tx_id = t.bank_tx_id)"
            "   ORDER BY t.id) r"
            "), inserted AS ("
            f"  INSERT INTO bank_transaction (id, {_STORED_COLUMNS}, customer_id)"
            f"  SELECT new_id, {_STORED_COLUMNS.replace('status', 'r_status')}, r_owner"
            "  FROM resolved"
            f") INSERT INTO pairing_batch ({BATCH_COLUMNS})"
            "  SELECT new_id, r_status, r_owner, r_directed, booked_on, amount,"
            f"   variable_symbol, specific_symbol, {BATCH_TID.format(status='r_status')}"
            "  FROM resolved"
        )
    )
    if big:
        plan_for_big_batch(session, "pairing_batch")
    return result.rowcount, searched


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    # most values hold none of the four characters COPY reads specially: no replace for them
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def _copy_incoming(session: Session, parsed: ParsedStatement, import_id: int) -> None:
    """COPY the statement (file order in ``id``) into bank_tx_incoming.

    The rows are written as COPY text directly: psycopg's per-value adaptation
    (``write_row``) cost more than the whole set-based pairing. 5,000 rows at a time: the
    text of a whole 50 MB statement is never held at once.
    """
    esc = _copy_text
    account = esc(parsed.account)
    tail = f"\tunmatched\t{import_id}\t{now().isoformat()}\n"
    raw = session.connection().connection.driver_connection
    txs = parsed.transactions
    seen: set[str] = set()  # each bank id once (the parsers refuse repeats; see _insert_new)
    with raw.cursor() as cur, cur.copy(f"COPY bank_tx_incoming ({_INCOMING_COLUMNS}) FROM STDIN") as copy:
        for start in range(0, len(txs), 5000):
            lines = []
            for position, tx in enumerate(txs[start : start + 5000], start + 1):
                if tx.bank_tx_id in seen:
                    continue
                seen.add(tx.bank_tx_id)
                if tx.amount != tx.amount.quantize(CENT):  # what the Money column refuses
                    raise ValueError(f"money has more than 2 decimal places: {tx.amount}")
                lines.append(
                    f"{position}\t{account}\t{esc(tx.bank_tx_id)}\t{tx.booked_on.isoformat()}\t"
                    f"{tx.amount:f}\t{esc(tx.currency)}\t{esc(tx.variable_symbol)}\t"
                    f"{esc(tx.specific_symbol)}\t{esc(tx.constant_symbol)}\t"
                    f"{esc(tx.counter_account)}\t{esc(tx.counter_name)}\t{esc(tx.message)}{tail}"
                )
            copy.write("".join(lines))

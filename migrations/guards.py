"""Append-only tables: triggers that make the database refuse UPDATE and DELETE of history.

A migration calls :func:`protect` for each table whose rows are evidence (audit events,
issued tax documents, bank movements, ledger postings) and :func:`unprotect` in its
downgrade::

    from migrations.guards import protect, unprotect

    def upgrade():
        protect(op, "audit_event")
        protect(op, "bank_transaction", mutable_columns=("status", "customer_id"))

    def downgrade():
        unprotect(op, "bank_transaction")
        unprotect(op, "audit_event")

``mutable_columns`` are the columns the application legitimately changes on a stored row
(a movement's pairing status); an UPDATE that changes any other column is refused.
``deletable=True`` lets rows be deleted (only UPDATEs of immutable columns are refused).

PostgreSQL: one trigger function per table, ``<table>_append_only()``, a row trigger
BEFORE UPDATE OR DELETE enabled ALWAYS (so it fires under ``session_replication_role =
replica`` too) and a statement trigger BEFORE TRUNCATE. The immutable columns are "every
column but the mutable ones", so a column added later is covered without touching the
trigger. The application's database role does not own the tables (README, "Production:
database roles"), so it can neither drop nor disable these triggers.

SQLite: BEFORE UPDATE / BEFORE DELETE triggers that ``RAISE(ABORT, ...)``. The UPDATE
trigger names the immutable columns as they are when :func:`protect` runs: a migration that
adds a column to a protected table, or rebuilds it (``batch_alter_table`` with a table
copy drops its triggers), calls :func:`protect` again afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

MESSAGE = "{table} is append-only: {hint}"
DEFAULT_HINT = "its rows are history; write a new row instead"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def protect(
    op,
    table: str,
    *,
    mutable_columns: Iterable[str] = (),
    deletable: bool = False,
    hint: str = DEFAULT_HINT,
) -> None:
    """Make the database refuse UPDATEs of ``table``'s immutable columns (all but
    ``mutable_columns``) and, unless ``deletable``, DELETE (and TRUNCATE on PostgreSQL).
    Idempotent: protecting a protected table replaces its triggers."""
    mutable = sorted(set(mutable_columns))
    bind = op.get_bind()
    columns = [c["name"] for c in sa.inspect(bind).get_columns(table)]
    unknown = set(mutable) - set(columns)
    if unknown:
        raise ValueError(f"{table} has no column(s) {', '.join(sorted(unknown))}")
    unprotect(op, table)
    message = _quote(MESSAGE.format(table=table, hint=hint))
    if bind.dialect.name == "postgresql":
        _protect_postgresql(op, table, mutable, deletable, message)
    else:
        _protect_sqlite(op, table, columns, mutable, deletable, message)


def _protect_postgresql(op, table, mutable, deletable, message) -> None:
    function = f"{table}_append_only"
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND (to_jsonb(OLD) - TG_ARGV) = (to_jsonb(NEW) - TG_ARGV) THEN
                RETURN NEW;  -- only mutable columns changed
            END IF;
            IF TG_OP = 'DELETE' AND {'true' if deletable else 'false'} THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION '{message} (% refused)', TG_OP USING ERRCODE = 'raise_exception';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    args = ", ".join(f"'{_quote(c)}'" for c in mutable)
    events = "UPDATE" if deletable else "UPDATE OR DELETE"
    op.execute(
        f'CREATE TRIGGER {table}_append_only BEFORE {events} ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION {function}({args})"
    )
    # fires under session_replication_role = replica as well
    op.execute(f'ALTER TABLE "{table}" ENABLE ALWAYS TRIGGER {table}_append_only')
    if not deletable:
        # an ordinary (origin) trigger: the tests' and benchmarks' clean-up, run as the
        # owner under session_replication_role = replica, may still empty the tables
        op.execute(
            f'CREATE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def _protect_sqlite(op, table, columns, mutable, deletable, message) -> None:
    # like PostgreSQL's: an UPDATE that leaves every immutable column as it was passes
    immutable = [c for c in columns if c not in mutable]
    changed = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in immutable) or "0"
    when = f" WHEN {changed}"
    op.execute(
        f'CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON "{table}"{when} '
        f"BEGIN SELECT RAISE(ABORT, '{message} (UPDATE refused)'); END"
    )
    if not deletable:
        op.execute(
            f'CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON "{table}" '
            f"BEGIN SELECT RAISE(ABORT, '{message} (DELETE refused)'); END"
        )


def unprotect(op, table: str) -> None:
    """Remove what :func:`protect` created on ``table`` (no error when there is none)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only_truncate ON "{table}"')
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON "{table}"')
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete")

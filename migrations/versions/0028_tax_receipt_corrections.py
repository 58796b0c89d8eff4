"""corrective tax documents for receipts of cancelled cash payments

Revision ID: 0028
Revises: 0023
Create Date: 2026-12-07 05:30:00

- ``tax_receipt_correction`` (+ ``tax_receipt_correction_vat``): the opravný daňový doklad
  that reverses a tax document for a received payment (``tax_receipt``) when the cash
  payment it was issued for is cancelled (billing/invoicing/receipt_corrections.py), one per
  receipt (UNIQUE receipt_id), append-only like every issued document.
- ``tax_receipt.allocation_id`` becomes a plain indexed id (no foreign key, not unique): the
  cancellation removes the payment's allocations (the advance is open again) while the
  receipt stays as issued, corrected. SQLite may hand a later allocation the same id again,
  so the id is no longer unique; the pending receipts skip corrected ones
  (billing/invoicing/receipts.py).

SQLite cannot drop a constraint: ``tax_receipt`` is rebuilt (batch mode). Other tables
reference it (its VAT rows, advance deductions, credit receipts), so the rebuild runs with
foreign keys off, outside the migration's transaction (SQLite ignores the pragma inside
one), as SQLite's own procedure for table changes describes; the guard goes before and
comes back after (the copy drops the table's triggers).
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0028"
down_revision = "0023"
branch_labels = None
depends_on = None

ISSUED = "an issued tax document is never changed; issue a corrective document instead"
FK = "fk_tax_receipt_allocation_id_allocation"
UQ = "uq_tax_receipt_allocation_id"
IX = "ix_tax_receipt_allocation_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(FK, "tax_receipt", type_="foreignkey")
        op.drop_constraint(UQ, "tax_receipt", type_="unique")
        op.create_index(IX, "tax_receipt", ["allocation_id"], unique=False)
    else:
        _sqlite_rebuild(bind, drop=True)
    op.create_table(
        "tax_receipt_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("cash_cancellation_id", sa.Integer(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("corrected_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(length=64), nullable=False),
        sa.Column("total_net", core.db.Money(), nullable=False),
        sa.Column("total_vat", core.db.Money(), nullable=False),
        sa.Column("total", core.db.Money(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["tax_receipt.id"],
            name=op.f("fk_tax_receipt_correction_receipt_id_tax_receipt"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"],
            name=op.f("fk_tax_receipt_correction_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["cash_cancellation_id"], ["cash_receipt_cancellation.id"],
            name=op.f("fk_tax_receipt_correction_cash_cancellation_id_cash_receipt_cancellation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_receipt_correction")),
        sa.UniqueConstraint("number", name=op.f("uq_tax_receipt_correction_number")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_tax_receipt_correction_receipt_id")),
    )
    op.create_index(op.f("ix_tax_receipt_correction_customer_id"), "tax_receipt_correction",
                    ["customer_id"], unique=False)
    op.create_index(op.f("ix_tax_receipt_correction_cash_cancellation_id"),
                    "tax_receipt_correction", ["cash_cancellation_id"], unique=False)
    op.create_table(
        "tax_receipt_correction_vat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("correction_id", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("base", core.db.Money(), nullable=False),
        sa.Column("vat", core.db.Money(), nullable=False),
        sa.Column("total", core.db.Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["correction_id"], ["tax_receipt_correction.id"],
            name=op.f("fk_tax_receipt_correction_vat_correction_id_tax_receipt_correction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_receipt_correction_vat")),
        sa.UniqueConstraint("correction_id", "rate",
                            name=op.f("uq_tax_receipt_correction_vat_correction_id")),
    )
    protect(op, "tax_receipt_correction", hint=ISSUED)
    protect(op, "tax_receipt_correction_vat", hint=ISSUED)


def downgrade() -> None:
    unprotect(op, "tax_receipt_correction_vat")
    unprotect(op, "tax_receipt_correction")
    op.drop_table("tax_receipt_correction_vat")
    op.drop_index(op.f("ix_tax_receipt_correction_cash_cancellation_id"),
                  table_name="tax_receipt_correction")
    op.drop_index(op.f("ix_tax_receipt_correction_customer_id"),
                  table_name="tax_receipt_correction")
    op.drop_table("tax_receipt_correction")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_index(IX, table_name="tax_receipt")
        op.create_unique_constraint(UQ, "tax_receipt", ["allocation_id"])
        op.create_foreign_key(FK, "tax_receipt", "allocation", ["allocation_id"], ["id"])
    else:
        _sqlite_rebuild(bind, drop=False)


def _sqlite_rebuild(bind, *, drop: bool) -> None:
    """Rebuild ``tax_receipt`` without (``drop``) or with its allocation key, foreign keys
    off (outside the transaction: the pragma is a no-op inside one)."""
    unprotect(op, "tax_receipt")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN")
    try:
        with op.batch_alter_table("tax_receipt", recreate="always") as batch:
            if drop:
                batch.drop_constraint(FK, type_="foreignkey")
                batch.drop_constraint(UQ, type_="unique")
                batch.create_index(IX, ["allocation_id"], unique=False)
            else:
                batch.drop_index(IX)
                batch.create_unique_constraint(UQ, ["allocation_id"])
                batch.create_foreign_key(FK, "allocation", ["allocation_id"], ["id"])
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"tax_receipt rebuild broke foreign keys: {broken[:5]}")
        bind.exec_driver_sql("COMMIT")
    except Exception:
        bind.exec_driver_sql("ROLLBACK")
        raise
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
        bind.exec_driver_sql("BEGIN")
    protect(op, "tax_receipt", hint="an issued tax document is never changed; issue a credit note instead")

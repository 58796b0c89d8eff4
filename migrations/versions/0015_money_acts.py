"""money acts: cash receipts, a credit note's reason and the lines it corrects

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:40:00

- ``cash_receipt``: the příjmový pokladní doklad of each cash payment (billing/models/cash.py),
  append-only like every issued document.
- ``invoice.correction_reason``: a credit note's reason, printed on it (§ 45 of the VAT act).
- ``invoice_line.corrects_line_id``: the corrected invoice's line a credit note's line
  credits, so that a line is never credited beyond its amount. A plain integer, no foreign
  key: a key would make SQLite rebuild ``invoice_line`` (see 0009).

Both columns are added to protected tables (migration 0010): on SQLite the guard's UPDATE
trigger names the immutable columns as they were, so both tables are protected again.
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ISSUED = "an issued tax document is never changed; issue a credit note instead"


def upgrade() -> None:
    op.add_column("invoice", sa.Column("correction_reason", sa.Text(), nullable=True))
    op.add_column("invoice_line", sa.Column("corrects_line_id", sa.Integer(), nullable=True))
    protect(op, "invoice", hint=ISSUED)
    protect(op, "invoice_line", hint=ISSUED)
    op.create_table(
        "cash_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("bank_transaction_id", sa.Integer(), nullable=False),
        sa.Column("amount", core.db.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("received_by", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("supplier_name", sa.String(length=200), nullable=False),
        sa.Column("supplier_address", sa.String(length=300), nullable=False),
        sa.Column("supplier_ico", sa.String(length=8), nullable=True),
        sa.Column("supplier_dic", sa.String(length=14), nullable=True),
        sa.Column("customer_number", sa.String(length=10), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_address", sa.String(length=300), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_transaction_id"], ["bank_transaction.id"],
            name=op.f("fk_cash_receipt_bank_transaction_id_bank_transaction"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_cash_receipt_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_receipt")),
        sa.UniqueConstraint("bank_transaction_id", name=op.f("uq_cash_receipt_bank_transaction_id")),
        sa.UniqueConstraint("number", name=op.f("uq_cash_receipt_number")),
    )
    op.create_index(op.f("ix_cash_receipt_customer_id"), "cash_receipt", ["customer_id"], unique=False)
    protect(op, "cash_receipt", hint="a cash receipt was handed over; it is never changed")


def downgrade() -> None:
    unprotect(op, "cash_receipt")
    op.drop_index(op.f("ix_cash_receipt_customer_id"), table_name="cash_receipt")
    op.drop_table("cash_receipt")
    # SQLite refuses to drop a column a trigger names: the guards go first, then come back
    unprotect(op, "invoice_line")
    unprotect(op, "invoice")
    op.drop_column("invoice_line", "corrects_line_id")
    op.drop_column("invoice", "correction_reason")
    protect(op, "invoice", hint=ISSUED)
    protect(op, "invoice_line", hint=ISSUED)

"""cash receipt cancellation: the storno of a cash receipt recorded by mistake

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:50:00

- ``cash_receipt_cancellation``: the document that cancels a cash receipt (příjmový pokladní
  doklad) recorded by mistake (billing/models/cash.py, billing/cash/cancellation.py), one per
  receipt (UNIQUE receipt_id), append-only like every issued document.

The cancelled payment's movement gets ``bank_transaction.status = 'cancelled'`` (a mutable
column of that protected table since 0010): no schema change.
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cash_receipt_cancellation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", core.db.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cancelled_on", sa.Date(), nullable=False),
        sa.Column("cancelled_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reopened", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["cash_receipt.id"],
            name=op.f("fk_cash_receipt_cancellation_receipt_id_cash_receipt"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"],
            name=op.f("fk_cash_receipt_cancellation_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_receipt_cancellation")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_cash_receipt_cancellation_receipt_id")),
        sa.UniqueConstraint("number", name=op.f("uq_cash_receipt_cancellation_number")),
    )
    op.create_index(op.f("ix_cash_receipt_cancellation_customer_id"),
                    "cash_receipt_cancellation", ["customer_id"], unique=False)
    protect(op, "cash_receipt_cancellation",
            hint="a cancelling document was issued; it is never changed")


def downgrade() -> None:
    unprotect(op, "cash_receipt_cancellation")
    op.drop_index(op.f("ix_cash_receipt_cancellation_customer_id"),
                  table_name="cash_receipt_cancellation")
    op.drop_table("cash_receipt_cancellation")

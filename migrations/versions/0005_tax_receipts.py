"""tax documents for payments received on advance invoices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tax_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("advance_invoice_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("total_net", core.db.Money(), nullable=False),
        sa.Column("total_vat", core.db.Money(), nullable=False),
        sa.Column("total", core.db.Money(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advance_invoice_id"], ["invoice.id"],
            name=op.f("fk_tax_receipt_advance_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"], ["allocation.id"], name=op.f("fk_tax_receipt_allocation_id_allocation")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_tax_receipt_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_receipt")),
        sa.UniqueConstraint("allocation_id", name=op.f("uq_tax_receipt_allocation_id")),
        sa.UniqueConstraint("number", name=op.f("uq_tax_receipt_number")),
    )
    with op.batch_alter_table("tax_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tax_receipt_advance_invoice_id"), ["advance_invoice_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tax_receipt_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "tax_receipt_vat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("base", core.db.Money(), nullable=False),
        sa.Column("vat", core.db.Money(), nullable=False),
        sa.Column("total", core.db.Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["tax_receipt.id"], name=op.f("fk_tax_receipt_vat_receipt_id_tax_receipt")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_receipt_vat")),
        sa.UniqueConstraint("receipt_id", "rate", name=op.f("uq_tax_receipt_vat_receipt_id")),
    )


def downgrade() -> None:
    op.drop_table("tax_receipt_vat")
    with op.batch_alter_table("tax_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tax_receipt_customer_id"))
        batch_op.drop_index(batch_op.f("ix_tax_receipt_advance_invoice_id"))
    op.drop_table("tax_receipt")

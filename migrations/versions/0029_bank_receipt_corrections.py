"""corrective tax documents for receipts of unpaired bank payments

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 05:45:00

- ``tax_receipt_correction.bank_transaction_id``: the bank payment whose unpairing
  (``payments unassign``, billing/bank/queue.py) called for the corrective document, as
  ``cash_cancellation_id`` names a cancelled cash receipt. Nullable (a cash
  correction has none); the existing rows all come from cash cancellations, so nothing is
  backfilled.

The table stays append-only: SQLite's UPDATE trigger names the columns as they were when it
was created, so it is created again with the new column (migrations/guards.py).
"""
import sqlalchemy as sa
from alembic import op

from migrations.guards import protect

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

ISSUED = "an issued tax document is never changed; issue a corrective document instead"
IX = "ix_tax_receipt_correction_bank_transaction_id"
FK = "fk_tax_receipt_correction_bank_transaction_id_bank_transaction"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column("tax_receipt_correction",
                      sa.Column("bank_transaction_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "tax_receipt_correction", "bank_transaction",
                              ["bank_transaction_id"], ["id"])
    else:
        # SQLite adds a column with its reference in place (NULL for the rows there are)
        op.execute('ALTER TABLE tax_receipt_correction ADD COLUMN bank_transaction_id '
                   f'INTEGER CONSTRAINT "{FK}" REFERENCES bank_transaction (id)')
    op.create_index(IX, "tax_receipt_correction", ["bank_transaction_id"], unique=False)
    protect(op, "tax_receipt_correction", hint=ISSUED)


def downgrade() -> None:
    op.drop_index(IX, table_name="tax_receipt_correction")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(FK, "tax_receipt_correction", type_="foreignkey")
        op.drop_column("tax_receipt_correction", "bank_transaction_id")
    else:
        # SQLite drops a column only when nothing refers to it: the triggers go first
        from migrations.guards import unprotect

        unprotect(op, "tax_receipt_correction")
        op.execute("ALTER TABLE tax_receipt_correction DROP COLUMN bank_transaction_id")
    protect(op, "tax_receipt_correction", hint=ISSUED)

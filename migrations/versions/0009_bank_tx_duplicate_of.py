"""bank movements held as suspected duplicates of a movement from another statement format

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Movements stored before keep NULL: nothing was held then. A plain column, no foreign
    # key: movements are never deleted (migration 0010 guards them), and a key would make
    # SQLite rebuild bank_transaction, which the ledger's rows reference (the copy-and-drop
    # of batch mode breaks their foreign keys once there are rows).
    op.add_column("bank_transaction", sa.Column("duplicate_of", sa.Integer(), nullable=True))
    op.create_index("ix_bank_tx_lookalike", "bank_transaction",
                    ["source_account", "booked_on", "amount"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bank_tx_lookalike", table_name="bank_transaction")
    op.drop_column("bank_transaction", "duplicate_of")

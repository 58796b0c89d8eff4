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
    # Movements stored before keep NULL: nothing was held then.
    with op.batch_alter_table("bank_transaction") as batch:
        batch.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_bank_transaction_duplicate_of_bank_transaction"),
            "bank_transaction", ["duplicate_of"], ["id"],
        )
        batch.create_index(
            "ix_bank_tx_lookalike", ["source_account", "booked_on", "amount"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_transaction") as batch:
        batch.drop_index("ix_bank_tx_lookalike")
        batch.drop_constraint(
            op.f("fk_bank_transaction_duplicate_of_bank_transaction"), type_="foreignkey"
        )
        batch.drop_column("duplicate_of")

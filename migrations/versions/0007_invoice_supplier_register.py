"""the supplier's commercial-register entry snapshotted on each invoice

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Invoices issued before keep NULL: what they printed had no register entry.
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("supplier_register", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("supplier_register")

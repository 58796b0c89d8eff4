"""enforcement mail outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:45:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enforcement_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_enforcement_mail_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_mail")),
    )
    with op.batch_alter_table("enforcement_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enforcement_mail_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_enforcement_mail_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("enforcement_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_enforcement_mail_due")
        batch_op.drop_index(batch_op.f("ix_enforcement_mail_customer_id"))
    op.drop_table("enforcement_mail")

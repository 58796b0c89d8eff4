"""operators' announcements to subscribers (issue 14 item 9, issue 16)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-06 22:40:00

One table, ``announcement`` (enforcement/announcements.py): an outage or a notice, Czech
and English text, a time window, all customers or those on one router. Not a history table:
ending an announcement sets its ``ends_at``.
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text_cs", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("starts_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("router_name", sa.String(length=64), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index("ix_announcement_window", ["starts_at", "ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index("ix_announcement_window")
    op.drop_table("announcement")

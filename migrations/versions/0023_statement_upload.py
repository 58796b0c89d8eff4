"""statement upload: a bank statement uploaded in the console, imported by a job

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 05:10:00

Issue 14 item 5 (docs/bank-statements.md, "Upload in the console"):

* ``statement_upload``: the uploaded file (``content``, emptied once imported), its name,
  the format asked for and the one found, the account and the number of movements the
  up-front check read, size and SHA-256, who uploaded it and when. Its import is a row of
  ``job`` (migration 0020) of kind ``statement_upload``.
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("requested_format", sa.String(length=16), nullable=True),
        sa.Column("file_format", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=True),
        sa.Column("movements", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_upload")),
    )


def downgrade() -> None:
    op.drop_table("statement_upload")

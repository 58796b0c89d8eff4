"""jobs: a generic job table (the monthly run's chunks, later other long jobs) and the
invoices' e-mail state

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 01:50:00

Issue 17 item 1 (docs/monthly-run.md):

* ``job``: one unit of work that a worker takes with ``SELECT ... FOR UPDATE SKIP LOCKED``
  (kind, key, params, state, step, attempts, the lease: locked_by / lease_until /
  heartbeat_at, progress counters, error);
* ``invoice_mail``: an issued invoice's e-mail (deterministic Message-ID, sent or failed,
  attempts), written right after the SMTP server accepted the message. Not a column of
  ``invoice``: an issued invoice is append-only.
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True):
    return sa.Column(name, core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("run_key", sa.String(80), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("step", sa.String(20), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("run_after", nullable=False),
        sa.Column("locked_by", sa.String(120), nullable=True),
        _when("lease_until"),
        _when("heartbeat_at"),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.UniqueConstraint("key", name=op.f("uq_job_key")),
    )
    op.create_index(op.f("ix_job_run_key"), "job", ["run_key"])
    op.create_index(op.f("ix_job_state"), "job", ["state"])

    op.create_table(
        "invoice_mail",
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", name=op.f("fk_invoice_mail_invoice_id_invoice")), primary_key=True),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("sent_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("updated_at", nullable=False),
    )
    op.create_index(op.f("ix_invoice_mail_state"), "invoice_mail", ["state"])


def downgrade() -> None:
    op.drop_table("invoice_mail")
    op.drop_table("job")

"""credit services: advance deductions, services with an expiry and renewals, notices

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:40:00

Issue 15 items 4, 5 and 8 (docs/credit-services.md):

* ``advance_deduction``: a tax document for a received advance deducted on a final invoice
  (once: UNIQUE receipt), append-only;
* ``service``: ``expires_on``, ``renewal_months``, ``auto_renew``, ``billed_monthly``;
* ``service_renewal`` (append-only; UNIQUE (service, previous expiry)), ``renewal_order``
  (a renewal paid by transfer), ``renewal_tariff`` (the monthly-billing surcharge),
  ``credit_service_settings`` (per customer), ``credit_notice`` (the e-mail queue).
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SERVICE_COLUMNS = ("expires_on", "renewal_months", "auto_renew", "billed_monthly")


def _id():
    return sa.Column("id", sa.Integer(), primary_key=True)


def _created():
    return sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "advance_deduction",
        _id(),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", name=op.f("fk_advance_deduction_invoice_id_invoice")), nullable=False),
        sa.Column("receipt_id", sa.Integer(), sa.ForeignKey("tax_receipt.id", name=op.f("fk_advance_deduction_receipt_id_tax_receipt")), nullable=False),
        sa.Column("advance_invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", name=op.f("fk_advance_deduction_advance_invoice_id_invoice")), nullable=False),
        _created(),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_advance_deduction_receipt_id")),
    )
    op.create_index(op.f("ix_advance_deduction_invoice_id"), "advance_deduction", ["invoice_id"])
    op.create_index(op.f("ix_advance_deduction_advance_invoice_id"), "advance_deduction", ["advance_invoice_id"])

    # plain ADD COLUMNs: a batch rebuild of ``service`` on SQLite would drop a table that
    # service_tariff (0014) and others reference, which the foreign keys refuse
    op.add_column("service", sa.Column("expires_on", sa.Date(), nullable=True))
    op.add_column("service", sa.Column("renewal_months", sa.Integer(), nullable=True))
    op.add_column("service", sa.Column("auto_renew", sa.Boolean(), nullable=True))
    op.add_column("service", sa.Column("billed_monthly", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_index(op.f("ix_service_expires_on"), "service", ["expires_on"])

    op.create_table(
        "service_renewal",
        _id(),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", name=op.f("fk_service_renewal_service_id_service")), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", name=op.f("fk_service_renewal_customer_id_customer")), nullable=False),
        sa.Column("previous_expiry", sa.Date(), nullable=False),
        sa.Column("new_expiry", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("amount", core.db.Money(), nullable=False),
        sa.Column("paid_from", sa.String(10), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", name=op.f("fk_service_renewal_invoice_id_invoice")), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        _created(),
        sa.UniqueConstraint("service_id", "previous_expiry", name=op.f("uq_service_renewal_service_id")),
    )
    op.create_index(op.f("ix_service_renewal_service_id"), "service_renewal", ["service_id"])
    op.create_index(op.f("ix_service_renewal_customer_id"), "service_renewal", ["customer_id"])

    op.create_table(
        "renewal_order",
        _id(),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", name=op.f("fk_renewal_order_service_id_service")), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("invoice.id", name=op.f("fk_renewal_order_invoice_id_invoice")), nullable=False),
        sa.Column("previous_expiry", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("renewal_id", sa.Integer(), sa.ForeignKey("service_renewal.id", name=op.f("fk_renewal_order_renewal_id_service_renewal")), nullable=True),
        _created(),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_renewal_order_invoice_id")),
    )
    op.create_index(op.f("ix_renewal_order_service_id"), "renewal_order", ["service_id"])

    op.create_table(
        "renewal_tariff",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("monthly_surcharge_percent", sa.Numeric(5, 2), nullable=False),
    )

    op.create_table(
        "credit_service_settings",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", name=op.f("fk_credit_service_settings_customer_id_customer")), primary_key=True),
        sa.Column("auto_renew_kinds", sa.String(100), nullable=False),
        sa.Column("low_credit_notices", sa.Boolean(), nullable=False),
        sa.Column("low_credit_threshold", core.db.Money(), nullable=False),
        sa.Column("payment_request_emails", sa.Boolean(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "credit_notice",
        _id(),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id", name=op.f("fk_credit_notice_customer_id_customer")), nullable=False),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("service.id", name=op.f("fk_credit_notice_service_id_service")), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _created(),
        sa.Column("sent_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("key", name=op.f("uq_credit_notice_key")),
    )
    op.create_index(op.f("ix_credit_notice_customer_id"), "credit_notice", ["customer_id"])
    op.create_index(op.f("ix_credit_notice_status"), "credit_notice", ["status"])

    protect(op, "advance_deduction", hint="a deducted advance is part of an issued tax document")
    protect(op, "service_renewal", hint="a renewal is history; renew again or correct by a new one")


def downgrade() -> None:
    unprotect(op, "service_renewal")
    unprotect(op, "advance_deduction")
    op.drop_table("credit_notice")
    op.drop_table("credit_service_settings")
    op.drop_table("renewal_tariff")
    op.drop_table("renewal_order")
    op.drop_table("service_renewal")
    op.drop_index(op.f("ix_service_expires_on"), "service")
    with op.batch_alter_table("service") as batch:
        for column in SERVICE_COLUMNS:
            batch.drop_column(column)
    op.drop_table("advance_deduction")

"""a service's tariff history (name and price from a day on)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:40:00

``service_tariff`` keeps every change of a service's tariff name and price with the day
it takes effect, so the monthly run bills each month at the price in force then
(billing/customers/services.py, billing/invoicing/recurring.py). Append-only: a change is a
new row. Services that exist get their current tariff as the first row (from their
``valid_from``), written by this migration.
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_tariff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("price", core.db.Money(), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"],
                                name=op.f("fk_service_tariff_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_tariff")),
    )
    op.create_index("ix_service_tariff_service_id_effective_from", "service_tariff",
                    ["service_id", "effective_from"], unique=False)
    op.execute(
        "INSERT INTO service_tariff (service_id, effective_from, name, price, vat_rate, actor, "
        "created_at) SELECT id, valid_from, name, price, vat_rate, 'system:migration', "
        "CURRENT_TIMESTAMP FROM service"
    )
    protect(op, "service_tariff",
            hint="a tariff change is a new row (billing/customers/services.py)")


def downgrade() -> None:
    unprotect(op, "service_tariff")
    op.drop_index("ix_service_tariff_service_id_effective_from", table_name="service_tariff")
    op.drop_table("service_tariff")

"""voip tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:25:30.270086
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voip_tariff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('imported_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source_file', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voip_tariff')),
    sa.UniqueConstraint('valid_from', name=op.f('uq_voip_tariff_valid_from'))
    )
    op.create_table('voip_tariff_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tariff_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('destination', sa.String(length=100), nullable=False),
    sa.Column('price_per_minute', core.db.Price4(precision=12, scale=4), nullable=False),
    sa.Column('connect_fee', core.db.Price4(precision=12, scale=4), nullable=False),
    sa.Column('vat_rate', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('initial_increment', sa.Integer(), nullable=False),
    sa.Column('increment', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tariff_id'], ['voip_tariff.id'], name=op.f('fk_voip_tariff_rate_tariff_id_voip_tariff'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voip_tariff_rate')),
    sa.UniqueConstraint('tariff_id', 'prefix', name=op.f('uq_voip_tariff_rate_tariff_id'))
    )
    op.create_table('voip_account',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('credit', core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('opening_credit', core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('low_credit_threshold', core.db.Money(precision=12, scale=2), nullable=True),
    sa.Column('low_credit_notified', sa.Boolean(), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_voip_account_service_id_service')),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_voip_account'))
    )
    op.create_table('voip_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cdr_uniqueid', sa.String(length=150), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=80), nullable=False),
    sa.Column('destination_number', sa.String(length=80), nullable=False),
    sa.Column('destination', sa.String(length=100), nullable=True),
    sa.Column('prefix', sa.String(length=20), nullable=True),
    sa.Column('billsec', sa.Integer(), nullable=False),
    sa.Column('charged_seconds', sa.Integer(), nullable=False),
    sa.Column('cost', core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('tariff_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('import_batch', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_voip_call_service_id_service')),
    sa.ForeignKeyConstraint(['tariff_id'], ['voip_tariff.id'], name=op.f('fk_voip_call_tariff_id_voip_tariff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voip_call')),
    sa.UniqueConstraint('cdr_uniqueid', name=op.f('uq_voip_call_cdr_uniqueid'))
    )
    with op.batch_alter_table('voip_call', schema=None) as batch_op:
        batch_op.create_index('ix_voip_call_service_start', ['service_id', 'started_at'], unique=False)

    op.create_table('voip_topup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('amount', core.db.Money(precision=12, scale=2), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_voip_topup_customer_id_customer')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_voip_topup_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_voip_topup_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voip_topup')),
    sa.UniqueConstraint('request_key', name=op.f('uq_voip_topup_request_key'))
    )
    with op.batch_alter_table('voip_topup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voip_topup_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_voip_topup_service_created', ['service_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('voip_topup', schema=None) as batch_op:
        batch_op.drop_index('ix_voip_topup_service_created')
        batch_op.drop_index(batch_op.f('ix_voip_topup_customer_id'))

    op.drop_table('voip_topup')
    with op.batch_alter_table('voip_call', schema=None) as batch_op:
        batch_op.drop_index('ix_voip_call_service_start')

    op.drop_table('voip_call')
    op.drop_table('voip_account')
    op.drop_table('voip_tariff_rate')
    op.drop_table('voip_tariff')

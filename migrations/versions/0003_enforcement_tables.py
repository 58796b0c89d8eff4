"""enforcement tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:25:31.700370
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pppoe_password', sa.String(length=64), nullable=True))

    op.create_table('router',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('driver', sa.String(length=16), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('use_tls', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('ca_file', sa.String(length=500), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_router')),
    sa.UniqueConstraint('name', name=op.f('uq_router_name'))
    )
    op.create_table('enforcement_case',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_since', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('overdue_since', sa.Date(), nullable=True),
    sa.Column('reminder1_sent_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminder2_sent_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warned_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_ip', sa.String(length=45), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('disconnect_due', sa.Date(), nullable=True),
    sa.Column('disconnected_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reconnected_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_enforcement_case_customer_id_customer')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_enforcement_case'))
    )
    with op.batch_alter_table('enforcement_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_case_state'), ['state'], unique=False)

    op.create_table('router_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('router_name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('list_name', sa.String(length=64), nullable=True),
    sa.Column('address', sa.String(length=43), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_until', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_router_action_customer_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_router_action'))
    )
    with op.batch_alter_table('router_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_router_action_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_router_action_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('radius_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nas_ip', sa.String(length=45), nullable=False),
    sa.Column('nas_identifier', sa.String(length=64), nullable=True),
    sa.Column('acct_session_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('framed_ip', sa.String(length=45), nullable=True),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bytes_down', sa.BigInteger(), nullable=False),
    sa.Column('bytes_up', sa.BigInteger(), nullable=False),
    sa.Column('terminate_cause', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_radius_session_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_radius_session')),
    sa.UniqueConstraint('nas_ip', 'acct_session_id', name=op.f('uq_radius_session_nas_ip'))
    )
    with op.batch_alter_table('radius_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_radius_session_framed_ip'), ['framed_ip'], unique=False)
        batch_op.create_index(batch_op.f('ix_radius_session_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_radius_session_username'), ['username'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('radius_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_radius_session_username'))
        batch_op.drop_index(batch_op.f('ix_radius_session_service_id'))
        batch_op.drop_index(batch_op.f('ix_radius_session_framed_ip'))

    op.drop_table('radius_session')
    with op.batch_alter_table('router_action', schema=None) as batch_op:
        batch_op.drop_index('ix_router_action_due')
        batch_op.drop_index(batch_op.f('ix_router_action_customer_id'))

    op.drop_table('router_action')
    with op.batch_alter_table('enforcement_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_case_state'))

    op.drop_table('enforcement_case')
    op.drop_table('router')

    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('pppoe_password')

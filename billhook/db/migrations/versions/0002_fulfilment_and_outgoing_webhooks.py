"""Fulfilment records, domain registrations, plan terms, outgoing webhook endpoints and deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:20:11.072207
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import billhook.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('event_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('domain_registrations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('registrar', sa.String(length=50), nullable=False),
    sa.Column('registrar_reference', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('registered_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('renewals', sa.Integer(), nullable=False),
    sa.Column('contacts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_domain_registrations_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_registrations')),
    sa.UniqueConstraint('domain', name=op.f('uq_domain_registrations_domain'))
    )
    with op.batch_alter_table('domain_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_domain_registrations_user_id'), ['user_id'], unique=False)

    op.create_table('plan_terms',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=True),
    sa.Column('product_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('activated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', billhook.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renewals', sa.Integer(), nullable=False),
    sa.Column('created_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_plan_terms_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_terms')),
    sa.UniqueConstraint('subscription_stripe_id', name=op.f('uq_plan_terms_subscription_stripe_id'))
    )
    with op.batch_alter_table('plan_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_terms_user_id'), ['user_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('event_key', sa.String(length=300), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', billhook.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_key', name=op.f('uq_webhook_deliveries_endpoint_id_event_key'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_status'), ['status'], unique=False)

    op.create_table('fulfilment_records',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('job_type', sa.String(length=100), nullable=False),
    sa.Column('order_item_id', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('outcome', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_fulfilment_records_order_item_id_order_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfilment_records')),
    sa.UniqueConstraint('job_type', 'order_item_id', 'reference', name=op.f('uq_fulfilment_records_job_type_order_item_id_reference'))
    )
    with op.batch_alter_table('fulfilment_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfilment_records_order_item_id'), ['order_item_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('fulfilment_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfilment_records_order_item_id'))

    op.drop_table('fulfilment_records')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_status'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_endpoint_id'))

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('plan_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_terms_user_id'))

    op.drop_table('plan_terms')
    with op.batch_alter_table('domain_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domain_registrations_user_id'))

    op.drop_table('domain_registrations')
    op.drop_table('webhook_endpoints')

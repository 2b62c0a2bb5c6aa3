"""MRR ledger: each change of a subscription's MRR contribution; analytics indexes.

``subscriptions`` gains ``currency`` and ``mrr`` (its monthly amount after discounts, whatever
its status). ``mrr_ledger`` holds one row per subscription and effective time (see
billhook/models/mrr_ledger.py). Existing installations fill both with ``billhook analytics rebuild``.
The other indexes serve the analytics queries by period (docs/analytics.md) and the admin
console's lists (newest first) and customer page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import billhook.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('mrr', sa.BigInteger(), server_default='0', nullable=False))
    op.create_index('ix_subscriptions_analytics', 'subscriptions', ['currency', 'status'], unique=False, postgresql_include=['mrr', 'customer_id', 'product_id', 'price_stripe_id', 'cancel_at_period_end', 'cancel_at'])
    op.create_table('mrr_ledger',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('subscription_id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('plan', sa.String(length=100), nullable=True),
    sa.Column('state_before', sa.String(length=20), nullable=False),
    sa.Column('state_after', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('mrr_before', sa.BigInteger(), nullable=False),
    sa.Column('mrr_after', sa.BigInteger(), nullable=False),
    sa.Column('customer_mrr_before', sa.BigInteger(), nullable=False),
    sa.Column('customer_mrr_after', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=True),
    sa.Column('recorded_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_mrr_ledger_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_mrr_ledger_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mrr_ledger')),
    sa.UniqueConstraint('subscription_id', 'effective_at', name=op.f('uq_mrr_ledger_subscription_id_effective_at'))
    )
    with op.batch_alter_table('mrr_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_mrr_ledger_currency_effective_at', ['currency', 'effective_at'], unique=False, postgresql_include=['kind', 'customer_id', 'state_before', 'state_after', 'mrr_before', 'mrr_after', 'customer_mrr_before', 'customer_mrr_after'])
        batch_op.create_index('ix_mrr_ledger_customer_chain', ['customer_id', 'currency', 'effective_at'], unique=False)
    op.create_index('ix_payments_created_at', 'payments', ['created_at'], unique=False, postgresql_include=['status', 'currency', 'amount'])
    op.create_index('ix_payments_invoice_id', 'payments', ['invoice_id'], unique=False)
    op.create_index('ix_payments_customer_id', 'payments', ['customer_id'], unique=False)
    op.create_index('ix_subscriptions_created_at', 'subscriptions', ['created_at'], unique=False)
    op.create_index('ix_invoices_created_at', 'invoices', ['created_at'], unique=False)
    op.create_index('ix_invoices_attempted_created_at', 'invoices', ['created_at'], unique=False, postgresql_include=['id', 'status', 'attempt_count', 'currency', 'amount_due', 'paid_at'], postgresql_where=sa.text("attempt_count >= 2 OR status IN ('open', 'uncollectible')"))
    op.create_index('ix_checkout_sessions_created_at', 'checkout_sessions', ['created_at'], unique=False, postgresql_include=['product_id', 'price_stripe_id', 'status', 'completed_at'])
    op.create_index('ix_outbox_jobs_finished_at', 'outbox_jobs', ['finished_at'], unique=False, postgresql_include=['status', 'type'])
    op.create_index('ix_inbox_events_processed_at', 'inbox_events', ['processed_at'], unique=False, postgresql_include=['status', 'received_at'])


def downgrade() -> None:
    op.drop_index('ix_inbox_events_processed_at', table_name='inbox_events')
    op.drop_index('ix_outbox_jobs_finished_at', table_name='outbox_jobs')
    op.drop_index('ix_checkout_sessions_created_at', table_name='checkout_sessions')
    op.drop_index('ix_payments_created_at', table_name='payments')
    op.drop_index('ix_payments_invoice_id', table_name='payments')
    op.drop_index('ix_payments_customer_id', table_name='payments')
    op.drop_index('ix_subscriptions_created_at', table_name='subscriptions')
    op.drop_index('ix_invoices_created_at', table_name='invoices')
    op.drop_index('ix_invoices_attempted_created_at', table_name='invoices')
    op.drop_table('mrr_ledger')
    op.drop_index('ix_subscriptions_analytics', table_name='subscriptions')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('mrr')
        batch_op.drop_column('currency')

"""Outbox: a claim that stays flat as the job table grows.

A claimed job stays ``pending`` (running = pending under a live lease); only finishing and
burying move ``status``. Running jobs are turned back into pending ones that keep their lease,
so a worker upgraded mid-run still finds them. ``ix_outbox_jobs_due (status, run_after)``, whose
``status`` changed twice per job and left dead entries for the claim to walk over, gives way to
partial indexes on what the queries read: unsettled jobs by ``run_after`` (the claim) and dead
ones by creation (the admin console). On PostgreSQL the table keeps free room in each page
(``fillfactor``) so the claim's update fits beside the row it replaces (a HOT update).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 07:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")
_DEAD = sa.text("status = 'dead'")


def upgrade() -> None:
    op.execute("UPDATE outbox_jobs SET status = 'pending' WHERE status = 'running'")
    with op.batch_alter_table('outbox_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_jobs_due')
        batch_op.create_index('ix_outbox_jobs_pending', ['run_after'], unique=False, postgresql_where=_PENDING, sqlite_where=_PENDING)
        batch_op.create_index('ix_outbox_jobs_dead', ['created_at', 'id'], unique=False, postgresql_where=_DEAD, sqlite_where=_DEAD)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE outbox_jobs SET (fillfactor = 80)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE outbox_jobs RESET (fillfactor)')
    with op.batch_alter_table('outbox_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_jobs_dead')
        batch_op.drop_index('ix_outbox_jobs_pending')
        batch_op.create_index('ix_outbox_jobs_due', ['status', 'run_after'], unique=False)
    op.execute(
        "UPDATE outbox_jobs SET status = 'running' "
        "WHERE status = 'pending' AND locked_until IS NOT NULL"
    )

"""Object versions: per provider object, how new the mirror's applied state of it is.

The inbox applies an event's snapshot without fetching the object only when the event is newer
than this (see billhook/models/object_versions.py and billhook/inbox/README.md). Objects mirrored
before this migration have no row of their own: in a database that has received events, one
floor row (kind and id ``*``) holds the migration's time, and no event older than it is applied
from its snapshot.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 08:00:00
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import billhook.db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table('object_versions',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=False),
    sa.Column('applied_at', billhook.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'object_id', name=op.f('pk_object_versions'))
    )
    # Objects mirrored already have no version: the floor stands for all of them (VERSION_FLOOR).
    tables = ('inbox_events', 'customers', 'subscriptions', 'payment_methods', 'disputes')
    mirrored = op.get_bind().execute(
        sa.text(' UNION ALL '.join(f'SELECT 1 FROM (SELECT 1 FROM {t} LIMIT 1) AS {t}' for t in tables))
    ).first()
    if mirrored is not None:
        op.bulk_insert(versions, [{'kind': '*', 'object_id': '*', 'applied_at': datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table('object_versions')

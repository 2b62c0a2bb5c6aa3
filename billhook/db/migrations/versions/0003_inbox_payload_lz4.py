"""Inbox payloads compressed with lz4 on PostgreSQL.

Event payloads of 3-6 KB are compressed when stored (TOAST). PostgreSQL's default, pglz, cost the
webhook receiver's batch INSERT about a quarter of its database CPU per event; lz4 makes a payload
of the same size at a fraction of that cost. Only new rows are affected; nothing is rewritten. A
server built without lz4 keeps pglz. SQLite: nothing to do.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return False
    methods = bind.execute(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return 'lz4' in (methods or [])


def upgrade() -> None:
    if _lz4_available():
        op.execute('ALTER TABLE inbox_events ALTER COLUMN payload SET COMPRESSION lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE inbox_events ALTER COLUMN payload SET COMPRESSION default')

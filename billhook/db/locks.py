"""Serialising one-off work across processes that share a database."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# The first key of every advisory lock Billhook takes, so that they stay apart from locks other
# applications sharing the database take.
_NAMESPACE = 0x42494C4C  # "BILL"


async def hold_until_commit(db: AsyncSession | AsyncConnection, name: str) -> None:
    """Wait for and hold the lock ``name`` until the caller's transaction ends.

    Used where several processes would each do the same work (migrations and the catalog at
    start-up, claiming one customer's next inbox event): the second waits, then sees the first's
    committed rows. PostgreSQL only; SQLite lets one writer in at a time by itself.
    """
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    if bind.dialect.name != "postgresql":
        return
    await db.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:name))"),
        {"namespace": _NAMESPACE, "name": name},
    )

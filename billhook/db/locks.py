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
    start-up, claiming one customer's next inbox event, writing one customer's mirror): the second
    waits, then sees the first's committed rows. PostgreSQL only; SQLite lets one writer in at a
    time by itself.
    """
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    if bind.dialect.name != "postgresql":
        return
    await db.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:name))"),
        {"namespace": _NAMESPACE, "name": name},
    )


async def hold_mirror_of(db: AsyncSession | AsyncConnection, customer_key: str) -> None:
    """Let one transaction at a time fetch and write the mirror of ``customer_key``.

    Whoever writes a provider object into the mirror (the inbox worker applying an event, a user's
    cancel or resume) takes this before fetching or changing the object, so a copy fetched earlier
    is never written over a newer one. ``customer_key`` is the provider's customer id (an inbox
    event's ordering key, which is the object's own id when the event names no customer).
    """
    await hold_until_commit(db, f"mirror:{customer_key}")

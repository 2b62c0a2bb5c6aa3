"""How long applied events stay in the inbox.

A processed event's row is what makes a redelivery of it a duplicate (answered
``already_processed``, applied never again). Stripe retries a delivery for up to three days, and
``billhook events replay`` works on what is kept, so rows are kept at least 30 days
(:data:`MIN_DAYS`); failed and dead events are never pruned.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import InboxEvent, InboxStatus

MIN_DAYS = 30


async def prune_events(session: AsyncSession, now: datetime, keep: timedelta, limit: int) -> int:
    """Delete up to ``limit`` events processed more than ``keep`` ago (never under 30 days)."""
    cutoff = now - max(keep, timedelta(days=MIN_DAYS))
    oldest = (
        select(InboxEvent.id)
        .where(InboxEvent.status == InboxStatus.PROCESSED.value, InboxEvent.processed_at < cutoff)
        .limit(limit)
    )
    result = await session.execute(
        delete(InboxEvent).where(InboxEvent.id.in_(oldest)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

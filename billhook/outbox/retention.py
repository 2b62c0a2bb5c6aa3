"""Retention of done outbox jobs (run by :class:`billhook.ops.retention.RetentionService`).

A done job's row holds its key, and the key is what makes an effect happen once: a job enqueued
again under a pruned key runs again. Redeliveries never get that far (the inbox keeps processed
events at least 30 days and answers them as duplicates), so only a manual replay of an event older
than the jobs' retention repeats its effects, and those are idempotent where it matters (an email
is recorded under the same key in ``email_messages``, an order under its payment). Dead jobs are
never pruned: they wait for an operator.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import JobStatus, OutboxJob


async def prune_jobs(session: AsyncSession, now: datetime, keep: timedelta, limit: int) -> int:
    """Delete up to ``limit`` jobs that finished (done) more than ``keep`` ago."""
    oldest = (
        select(OutboxJob.id)
        .where(OutboxJob.status == JobStatus.DONE, OutboxJob.finished_at < now - keep)
        .limit(limit)
    )
    result = await session.execute(
        delete(OutboxJob).where(OutboxJob.id.in_(oldest)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

"""Putting a dead-lettered job back in the queue: the one rule for the CLI and the admin console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.errors import Conflict, NotFound
from billhook.models import OutboxJob
from billhook.outbox import repository


async def retry_dead_job(session: AsyncSession, job_id: str, now: datetime) -> OutboxJob:
    """Queue a dead job again with its attempts reset (flush only).

    Only a dead job: a pending or running one is already going to run, and re-running a done
    job would repeat its effect (its key made it happen once).
    """
    job = await repository.get(session, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    retried = await repository.retry_dead(session, job_id, now)
    if retried is None:
        raise Conflict(f"job {job_id} is {job.status}; only dead jobs can be retried")
    return retried

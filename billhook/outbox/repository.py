"""Every query on ``outbox_jobs``: claim with a lease, finish, retry, bury, release, list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Table, and_, bindparam, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from billhook.models import JobStatus, OutboxJob

_NO_SYNC = text("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds the lease on; ``attempt`` already counts this run."""

    id: str
    key: str
    type: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    run_after: datetime
    created_at: datetime


def _due(now: Any) -> ColumnElement[bool]:
    """Pending and due, or running under a lease that has expired (its worker died)."""
    return or_(
        and_(_jobs.c.status == JobStatus.PENDING, _jobs.c.run_after <= now),
        and_(_jobs.c.status == JobStatus.RUNNING, _jobs.c.locked_until < now),
    )


# The hot statements are built once, with bound parameters: building SQLAlchemy expressions
# per job costs more CPU than running them.
_jobs: Table = OutboxJob.__table__  # type: ignore[assignment]
_picked = (
    select(_jobs.c.id)
    .where(_due(bindparam("b_now")))
    .order_by(_jobs.c.run_after)
    .limit(bindparam("b_limit", type_=Integer()))
    .with_for_update(skip_locked=True)
    .cte("picked")
)
_CLAIM = (
    update(_jobs)
    .where(_jobs.c.id.in_(select(_picked.c.id)), _due(bindparam("b_now")))
    .values(status=JobStatus.RUNNING, locked_by=bindparam("b_worker"), locked_until=bindparam("b_until"),
            attempts=_jobs.c.attempts + 1, updated_at=bindparam("b_now"))
    .returning(_jobs.c.id, _jobs.c.key, _jobs.c.type, _jobs.c.payload, _jobs.c.attempts,
               _jobs.c.max_attempts, _jobs.c.run_after, _jobs.c.created_at)
)  # fmt: skip
_HOLD = (
    select(_jobs.c.id)
    .where(_jobs.c.id == bindparam("b_id"), _jobs.c.locked_by == bindparam("b_worker"),
           _jobs.c.status == JobStatus.RUNNING)
    .with_for_update()
)  # fmt: skip
_FINISH = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("b_id"), _jobs.c.locked_by == bindparam("b_worker"))
    .values(status=JobStatus.DONE, finished_at=bindparam("b_now"), locked_by=None, locked_until=None,
            last_error=None, updated_at=bindparam("b_now"))
)  # fmt: skip


async def claim(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs to ``worker_id`` in one statement.

    PostgreSQL: the sub-select takes row locks with ``FOR UPDATE SKIP LOCKED`` so concurrent
    workers pass over each other's rows instead of waiting or double-claiming; rows a running
    handler holds locked are skipped too. The pick is a CTE because PostgreSQL evaluates a
    locking CTE exactly once, whereas an ``IN (sub-select … LIMIT n)`` may be re-run per row
    and claim far more than ``n``. SQLite ignores ``FOR UPDATE``; its single writer makes
    the guarded ``UPDATE`` atomic. The attempt is counted at claim time so that a job which
    kills its worker still runs out of attempts instead of looping forever.
    """
    if session.get_bind().dialect.name == "postgresql":
        # A lease needs no wait for the WAL flush: if the server crashes before the claim is on
        # disk, the job is simply due again, and the claimer's connection died with the server.
        await session.execute(_NO_SYNC)
    parameters = {"b_now": now, "b_limit": limit, "b_worker": worker_id, "b_until": now + lease}
    rows = (await session.execute(_CLAIM, parameters)).all()
    jobs = [
        ClaimedJob(row.id, row.key, row.type, dict(row.payload), row.attempts, row.max_attempts,
                   row.run_after, row.created_at)
        for row in rows
    ]  # fmt: skip
    return sorted(jobs, key=lambda job: job.run_after)


async def hold(session: AsyncSession, job_id: str, worker_id: str) -> bool:
    """Inside the handler's transaction: lock our job row and confirm we still hold its lease.

    On PostgreSQL the row stays locked until the handler commits or rolls back, so even a
    lease that expires mid-run cannot hand the job to a second worker (its claim skips locked
    rows). This lock waits rather than skips: a concurrent claim may hold the row for an
    instant while it re-checks it.
    """
    result = await session.execute(_HOLD, {"b_id": job_id, "b_worker": worker_id})
    return result.first() is not None


async def finish(session: AsyncSession, job_id: str, worker_id: str, now: datetime) -> bool:
    """Mark done in the handler's transaction; False when the lease was lost meanwhile."""
    result = await session.execute(_FINISH, {"b_id": job_id, "b_worker": worker_id, "b_now": now})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def reschedule(
    session: AsyncSession, job_id: str, worker_id: str, *, run_after: datetime, error: str, now: datetime
) -> bool:
    statement = (
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.locked_by == worker_id)
        .values(status=JobStatus.PENDING, run_after=run_after, last_error=error,
                locked_by=None, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bury(session: AsyncSession, job_id: str, worker_id: str, *, error: str, now: datetime) -> bool:
    """Dead-letter a job: kept with its error until someone retries it."""
    statement = (
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.locked_by == worker_id)
        .values(status=JobStatus.DEAD, last_error=error, finished_at=now,
                locked_by=None, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, worker_id: str, now: datetime) -> int:
    """Hand back every job a stopping worker still holds; the interrupted run is not counted."""
    statement = (
        update(OutboxJob)
        .where(OutboxJob.locked_by == worker_id, OutboxJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.PENDING, locked_by=None, locked_until=None,
                attempts=OutboxJob.attempts - 1,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unlock(session: AsyncSession, job_ids: Sequence[str], worker_id: str, now: datetime) -> int:
    """Hand back jobs whose outcome could not be recorded; the attempt they used still counts."""
    statement = (
        update(OutboxJob)
        .where(OutboxJob.id.in_(list(job_ids)), OutboxJob.locked_by == worker_id,
               OutboxJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.PENDING, run_after=now, locked_by=None, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def retry_dead(session: AsyncSession, job_id: str, now: datetime) -> OutboxJob | None:
    """Put a dead job back in the queue with its attempts reset; None if it is not dead."""
    job = await session.get(OutboxJob, job_id, with_for_update=True)
    if job is None or job.status != JobStatus.DEAD:
        return None
    job.status = JobStatus.PENDING
    job.attempts = 0
    job.run_after = now
    job.finished_at = None
    job.updated_at = now
    await session.flush()
    return job


async def get(session: AsyncSession, job_id: str) -> OutboxJob | None:
    return await session.get(OutboxJob, job_id)


async def list_jobs(
    session: AsyncSession, *, status: str | None = None, job_type: str | None = None, limit: int = 100
) -> Sequence[OutboxJob]:
    statement = select(OutboxJob).order_by(OutboxJob.created_at.desc(), OutboxJob.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(OutboxJob.status == status)
    if job_type is not None:
        statement = statement.where(OutboxJob.type == job_type)
    return (await session.execute(statement)).scalars().all()

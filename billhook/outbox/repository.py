"""Every query on ``outbox_jobs``: claim with a lease, mark done, retry, bury, release, list.

A claimed job keeps ``status = 'pending'``; it is running while its lease is live
(``locked_by``, ``locked_until`` in the future). Only the done mark and burying move ``status``,
so the claim changes no indexed column (an in-place HOT update on PostgreSQL) and
``ix_outbox_jobs_pending`` holds the unsettled jobs only: the claim reads one range of it
whatever the number of done jobs in the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Table, and_, any_, bindparam, func, literal_column, or_, select, text, update
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


_jobs: Table = OutboxJob.__table__  # type: ignore[assignment]


def _status_is(status: JobStatus) -> ColumnElement[bool]:
    # A literal, not a bound parameter: PostgreSQL matches a partial index's predicate against
    # constants only, and a prepared statement's generic plan would otherwise not use it.
    return _jobs.c.status == literal_column(f"'{status.value}'")


def _leased(now: Any) -> ColumnElement[bool]:
    return and_(_jobs.c.locked_until.is_not(None), _jobs.c.locked_until >= now)


def _due(now: Any) -> ColumnElement[bool]:
    """Pending, due, and under no live lease (never claimed, released, or its worker died)."""
    return and_(
        _status_is(JobStatus.PENDING),
        _jobs.c.run_after <= now,
        or_(_jobs.c.locked_until.is_(None), _jobs.c.locked_until < now),
    )


def _ours(job_id: Any, worker_id: Any) -> ColumnElement[bool]:
    """The job is still leased to this worker (not settled, not reclaimed by another)."""
    return and_(_jobs.c.id == job_id, _jobs.c.locked_by == worker_id, _status_is(JobStatus.PENDING))


# The hot statements are built once, with bound parameters: building SQLAlchemy expressions
# per job costs more CPU than running them.
_picked = (
    select(_jobs.c.id)
    .where(_due(bindparam("b_now")))
    .order_by(_jobs.c.run_after)
    .limit(bindparam("b_limit", type_=Integer()))
    .with_for_update(skip_locked=True)
    .cte("picked")
)
_CLAIM_VALUES = {
    "locked_by": bindparam("b_worker"), "locked_until": bindparam("b_until"),
    "attempts": _jobs.c.attempts + 1, "updated_at": bindparam("b_now"),
}  # fmt: skip
_CLAIM_RETURNS = (_jobs.c.id, _jobs.c.key, _jobs.c.type, _jobs.c.payload, _jobs.c.attempts,
                  _jobs.c.max_attempts, _jobs.c.run_after, _jobs.c.created_at)  # fmt: skip
# PostgreSQL: the picked ids as an array, so the update finds them through the primary key
# whatever the planner guesses of the CTE's size (an ``IN`` may become a hash join over the
# table). No re-check here: a row locked by the pick was re-checked at its newest version.
_CLAIM = (
    update(_jobs)
    .where(_jobs.c.id == any_(func.array(select(_picked.c.id).scalar_subquery())))
    .values(_CLAIM_VALUES)
    .returning(*_CLAIM_RETURNS)
)
# SQLite takes no row locks: the update re-checks what it picked.
_CLAIM_GUARDED = (
    update(_jobs)
    .where(_jobs.c.id.in_(select(_picked.c.id)), _due(bindparam("b_now")))
    .values(_CLAIM_VALUES)
    .returning(*_CLAIM_RETURNS)
)
_HOLD = select(_jobs.c.id).where(_ours(bindparam("b_id"), bindparam("b_worker"))).with_for_update()
_MARK_DONE = (
    update(_jobs)
    .where(_ours(bindparam("b_id"), bindparam("b_worker")))
    .values(status=JobStatus.DONE, finished_at=bindparam("b_now"), locked_by=None, locked_until=None,
            last_error=None, updated_at=bindparam("b_now"))
    .returning(_jobs.c.id)
)  # fmt: skip


async def claim(
    session: AsyncSession, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs to ``worker_id`` in one statement.

    PostgreSQL: the sub-select takes row locks with ``FOR UPDATE SKIP LOCKED`` so concurrent
    workers pass over each other's rows instead of waiting or double-claiming; rows a running
    handler holds locked are skipped too, even once their lease has expired. The pick is a CTE
    because PostgreSQL evaluates a locking CTE exactly once, whereas an ``IN (sub-select …
    LIMIT n)`` may be re-run per row and claim far more than ``n``; a row locked this way has
    been re-checked against the condition at its newest version (READ COMMITTED's re-check of
    locked rows). SQLite ignores ``FOR UPDATE``; its single writer makes the guarded ``UPDATE``
    atomic. The attempt is counted at
    claim time so that a job which kills its worker still runs out of attempts instead of
    looping forever.
    """
    is_postgresql = session.get_bind().dialect.name == "postgresql"
    if is_postgresql:
        # A lease needs no wait for the WAL flush: if the server crashes before the claim is on
        # disk, the job is simply due again, and the claimer's connection died with the server.
        await session.execute(_NO_SYNC)
    parameters = {"b_now": now, "b_limit": limit, "b_worker": worker_id, "b_until": now + lease}
    rows = (await session.execute(_CLAIM if is_postgresql else _CLAIM_GUARDED, parameters)).all()
    jobs = [
        ClaimedJob(row.id, row.key, row.type, dict(row.payload), row.attempts, row.max_attempts,
                   row.run_after, row.created_at)
        for row in rows
    ]  # fmt: skip
    return sorted(jobs, key=lambda job: job.run_after)


async def hold(session: AsyncSession, job_id: str, worker_id: str) -> bool:
    """Inside the handler's transaction: lock our job row and confirm we still hold its lease.

    Used where the done mark comes last (SQLite, see :func:`mark_done`). This lock waits rather
    than skips: a concurrent claim may hold the row for an instant while it re-checks it.
    """
    result = await session.execute(_HOLD, {"b_id": job_id, "b_worker": worker_id})
    return result.first() is not None


async def mark_done(session: AsyncSession, job_id: str, worker_id: str, now: datetime) -> bool:
    """Mark the job done in the handler's transaction; False when the lease was lost meanwhile.

    On PostgreSQL the worker runs this first, before the handler: the update also locks the row
    until the handler's transaction ends, so even a lease that expires mid-run cannot hand the
    job to a second worker (its claim skips locked rows), and a handler that fails rolls the
    mark back with its own writes. One statement instead of a lock and a later update; the
    price is that ``finished_at`` is then when the successful run started, and that another
    transaction writing this row waits for the handler (see ``enqueue``'s ``NOT EXISTS``).
    """
    result = await session.execute(_MARK_DONE, {"b_id": job_id, "b_worker": worker_id, "b_now": now})
    return result.first() is not None


async def reschedule(
    session: AsyncSession, job_id: str, worker_id: str, *, run_after: datetime, error: str, now: datetime
) -> bool:
    """Give the lease back and make the job due again at ``run_after`` (a retry)."""
    statement = (
        update(_jobs)
        .where(_ours(job_id, worker_id))
        .values(run_after=run_after, last_error=error, locked_by=None, locked_until=None, updated_at=now)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bury(session: AsyncSession, job_id: str, worker_id: str, *, error: str, now: datetime) -> bool:
    """Dead-letter a job: kept with its error until someone retries it."""
    statement = (
        update(_jobs)
        .where(_ours(job_id, worker_id))
        .values(status=JobStatus.DEAD, last_error=error, finished_at=now,
                locked_by=None, locked_until=None, updated_at=now)
    )  # fmt: skip
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, worker_id: str, now: datetime) -> int:
    """Hand back every job a stopping worker still holds; the interrupted run is not counted."""
    statement = (
        update(_jobs)
        .where(_jobs.c.locked_by == worker_id, _status_is(JobStatus.PENDING))
        .values(locked_by=None, locked_until=None, attempts=_jobs.c.attempts - 1, updated_at=now)
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unlock(session: AsyncSession, job_ids: Sequence[str], worker_id: str, now: datetime) -> int:
    """Hand back jobs whose outcome could not be recorded; the attempt they used still counts."""
    statement = (
        update(_jobs)
        .where(_jobs.c.id.in_(list(job_ids)), _jobs.c.locked_by == worker_id, _status_is(JobStatus.PENDING))
        .values(run_after=now, locked_by=None, locked_until=None, updated_at=now)
    )
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


def _in_state(status: str, now: datetime) -> ColumnElement[bool]:
    """The stored condition for a shown state: running and pending differ by a live lease."""
    if status == JobStatus.RUNNING:
        return and_(_status_is(JobStatus.PENDING), _leased(now))
    if status == JobStatus.PENDING:
        return and_(_status_is(JobStatus.PENDING), ~_leased(now))
    return _status_is(JobStatus(status))


async def list_jobs(
    session: AsyncSession,
    *,
    now: datetime,
    status: str | None = None,
    job_type: str | None = None,
    limit: int = 100,
) -> Sequence[OutboxJob]:
    """Newest first; ``status`` may be any :class:`JobStatus`, ``running`` included."""
    statement = select(OutboxJob).order_by(OutboxJob.created_at.desc(), OutboxJob.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(_in_state(status, now))
    if job_type is not None:
        statement = statement.where(OutboxJob.type == job_type)
    return (await session.execute(statement)).scalars().all()

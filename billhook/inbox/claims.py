"""Leasing inbox events to a worker: which are due, and claiming one without races.

A claim is a compare-and-set ``UPDATE`` (the status and attempt count the worker saw), guarded
so that an event is not claimed while another event with the same ordering key holds a live
lease. On PostgreSQL a transaction-scoped advisory lock on the key serialises concurrent claims
of one key, so the guard reads the other claim's committed lease; SQLite has a single writer,
which serialises them already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Result, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from billhook.db.locks import hold_until_commit
from billhook.models import InboxEvent, InboxStatus

_RETRYABLE = (InboxStatus.PENDING.value, InboxStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    ordering_key: str | None
    status: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    token: str
    attempts: int  # including this one


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(InboxEvent.status.in_(_RETRYABLE), InboxEvent.next_attempt_at <= now),
        and_(InboxEvent.status == InboxStatus.PROCESSING.value, InboxEvent.locked_until < now),
    )


async def due_candidates(session: AsyncSession, now: datetime, limit: int) -> list[Candidate]:
    """Due events in provider-created order, at most one per ordering key."""
    statement = (
        select(InboxEvent.id, InboxEvent.ordering_key, InboxEvent.status, InboxEvent.attempts)
        .where(_due(now))
        .order_by(
            func.coalesce(InboxEvent.provider_created_at, InboxEvent.received_at),
            InboxEvent.received_at,
            InboxEvent.id,
        )
        .limit(limit * 4)
    )
    seen_keys: set[str] = set()
    candidates: list[Candidate] = []
    for row in (await session.execute(statement)).all():
        event_id, key, status, attempts = row
        if key is not None:
            if key in seen_keys:
                continue
            seen_keys.add(key)
        candidates.append(Candidate(event_id, key, status, attempts))
        if len(candidates) >= limit:
            break
    return candidates


async def claim(
    session: AsyncSession, candidate: Candidate, token: str, now: datetime, lease: timedelta
) -> Claim | None:
    """Lease ``candidate`` to ``token`` in the caller's transaction (the caller commits)."""
    conditions = [
        InboxEvent.id == candidate.id,
        InboxEvent.status == candidate.status,
        InboxEvent.attempts == candidate.attempts,
    ]
    if candidate.ordering_key is not None:
        await hold_until_commit(session, f"inbox:{candidate.ordering_key}")
        other = aliased(InboxEvent)
        live_lease = exists().where(
            other.ordering_key == candidate.ordering_key,
            other.id != candidate.id,
            other.status == InboxStatus.PROCESSING.value,
            other.locked_until >= now,
        )
        conditions.append(~live_lease)
    result = await session.execute(
        update(InboxEvent)
        .where(*conditions)
        .values(
            status=InboxStatus.PROCESSING.value,
            locked_until=now + lease,
            locked_by=token,
            attempts=InboxEvent.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    return Claim(candidate.id, token, candidate.attempts + 1)


async def still_owned(session: AsyncSession, claim_: Claim) -> bool:
    """Touch our lease row first thing in the processing transaction.

    It proves the lease is still ours, and on SQLite makes the transaction's first statement a
    write, so it holds the write lock from the start instead of failing to upgrade a stale read.
    """
    result = await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == claim_.id, InboxEvent.locked_by == claim_.token)
        .values(locked_by=claim_.token)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def mark_processed(session: AsyncSession, claim_: Claim, now: datetime) -> None:
    await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == claim_.id, InboxEvent.locked_by == claim_.token)
        .values(
            status=InboxStatus.PROCESSED.value,
            processed_at=now,
            locked_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


async def mark_failed(
    session: AsyncSession, claim_: Claim, error: str, *, dead: bool, next_attempt_at: datetime
) -> bool:
    result = await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == claim_.id, InboxEvent.locked_by == claim_.token)
        .values(
            status=(InboxStatus.DEAD if dead else InboxStatus.FAILED).value,
            locked_until=None,
            last_error=error[:4000],
            next_attempt_at=next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1

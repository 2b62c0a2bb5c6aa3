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


# -- groups: the due events of one ordering key, claimed and applied together ---------------------


@dataclass(frozen=True, slots=True)
class Group:
    """Due events of one ordering key, oldest first (a key-less event is a group of its own)."""

    ordering_key: str | None
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed event as the apply step needs it (returned by the claim, no re-read)."""

    claim: Claim
    type: str
    ordering_key: str | None
    payload: dict[str, Any]
    received_at: datetime


async def due_groups(
    session: AsyncSession, now: datetime, groups: int, per_group: int, skip_keys: frozenset[str] = frozenset()
) -> list[Group]:
    """Up to ``groups`` groups of at most ``per_group`` due events, in provider-created order.

    An event tried before (its attempt failed, or its worker died with it) is applied alone: a
    poison event must not take the events claimed with it down to the dead letters. A group
    ends before such an event, so a key's events are still applied in order. ``skip_keys`` are
    keys this process is applying already (continuous slots)."""
    statement = (
        select(InboxEvent.id, InboxEvent.ordering_key, InboxEvent.attempts)
        .where(_due(now))
        .order_by(
            func.coalesce(InboxEvent.provider_created_at, InboxEvent.received_at),
            InboxEvent.received_at,
            InboxEvent.id,
        )
        # Events of one second come in id order, so customers of a burst interleave: a window of
        # a few groups' worth keeps a customer's events in one group (one read per object).
        .limit(max(groups * per_group * 4, 256))
    )
    slots: list[tuple[str | None, list[str]]] = []
    open_keys: dict[str, list[str]] = {}  # keys whose group may still grow
    seen: set[str] = set()
    for event_id, key, attempts in (await session.execute(statement)).all():
        if key is not None and key in seen:
            ids = open_keys.get(key)
            if ids is None or attempts > 0 or len(ids) >= per_group:
                open_keys.pop(key, None)  # the group ends here; the rest waits for the next claim
            else:
                ids.append(event_id)
        elif len(slots) < groups and (key is None or key not in skip_keys):
            ids = [event_id]
            slots.append((key, ids))
            if key is not None:
                seen.add(key)
                if attempts == 0:
                    open_keys[key] = ids
        elif key is not None:
            seen.add(key)
    return [Group(key, tuple(ids)) for key, ids in slots]


async def claim_group(
    session: AsyncSession, group: Group, token: str, now: datetime, lease: timedelta
) -> list[Claimed]:
    """Lease the group's events that are still due to ``token`` in one ``UPDATE … RETURNING``.

    Like :func:`claim`, it takes nothing while another event of the key holds a live lease; on
    PostgreSQL the advisory lock on the key serialises concurrent claims of one customer."""
    conditions: list[ColumnElement[bool]] = [InboxEvent.id.in_(group.ids), _due(now)]
    if group.ordering_key is not None:
        await hold_until_commit(session, f"inbox:{group.ordering_key}")
        other = aliased(InboxEvent)
        live_lease = exists().where(
            other.ordering_key == group.ordering_key,
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
        .returning(
            InboxEvent.id, InboxEvent.attempts, InboxEvent.type, InboxEvent.payload, InboxEvent.received_at
        )
        .execution_options(synchronize_session=False)
    )
    taken = {row[0]: row for row in result.all()}
    claimed: list[Claimed] = []
    for event_id in group.ids:
        if event_id in taken:
            _id, attempts, event_type, payload, received_at = taken[event_id]
            claim_ = Claim(event_id, token, attempts)
            claimed.append(Claimed(claim_, event_type, group.ordering_key, payload, received_at))
    return claimed


async def still_owned_all(session: AsyncSession, claims: list[Claim]) -> set[str]:
    """:func:`still_owned` for several claims in one statement; returns the ids still ours."""
    if not claims:
        return set()
    result = await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_([c.id for c in claims]), InboxEvent.locked_by.in_({c.token for c in claims}))
        .values(locked_by=InboxEvent.locked_by)
        .returning(InboxEvent.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars().all())


async def still_processed(session: AsyncSession, ids: set[str]) -> set[str]:
    """Which of ``ids`` are stored and processed."""
    if not ids:
        return set()
    statement = select(InboxEvent.id).where(
        InboxEvent.id.in_(ids), InboxEvent.status == InboxStatus.PROCESSED.value
    )
    return set((await session.scalars(statement)).all())


async def mark_all_processed(session: AsyncSession, claims: list[Claim], now: datetime) -> None:
    if not claims:
        return
    await session.execute(
        update(InboxEvent)
        .where(InboxEvent.id.in_([c.id for c in claims]), InboxEvent.locked_by.in_({c.token for c in claims}))
        .values(status=InboxStatus.PROCESSED.value, processed_at=now, locked_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )


async def release_leases(session: AsyncSession, token_prefix: str, now: datetime) -> int:
    """End the live leases whose token starts with ``token_prefix`` (one worker's), so that any
    worker may claim those events at once instead of after the lease. The attempt stays counted:
    an event that keeps a worker from finishing must still run out of attempts."""
    result = await session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.status == InboxStatus.PROCESSING.value,
            InboxEvent.locked_by.startswith(token_prefix, autoescape=True),
            InboxEvent.locked_until > now,
        )
        .values(locked_until=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def unsettled_objects(
    session: AsyncSession, ordering_keys: set[str], object_ids: set[str], besides: set[str]
) -> set[str]:
    """Which of ``object_ids`` have a stored event not applied yet (pending, failed, claimed or
    dead) other than the inbox rows ``besides``, among the events keyed by ``ordering_keys``."""
    if not object_ids or not ordering_keys:
        return set()
    statement = (
        select(InboxEvent.object_id)
        .where(
            InboxEvent.ordering_key.in_(ordering_keys),
            InboxEvent.object_id.in_(object_ids),
            InboxEvent.status != InboxStatus.PROCESSED.value,
            InboxEvent.id.not_in(besides),
        )
        .distinct()
    )
    return {object_id for object_id in (await session.scalars(statement)).all() if object_id}

"""Listing, showing and replaying stored events (the ``billhook events`` commands use these)."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.inbox.claims import Candidate, claim
from billhook.inbox.worker import InboxWorker
from billhook.kit.ids import new_id
from billhook.models import InboxEvent, InboxStatus

STATUSES = tuple(status.value for status in InboxStatus)


async def find_event(session: AsyncSession, ident: str) -> InboxEvent:
    """By provider event id (``evt_…``) or inbox row id (``ie_…``)."""
    row = await session.scalar(
        select(InboxEvent).where(or_(InboxEvent.event_id == ident, InboxEvent.id == ident))
    )
    if row is None:
        raise NotFound(f"no inbox event {ident!r}")
    return row


async def list_events(
    session: AsyncSession, *, status: str | None = None, event_type: str | None = None, limit: int = 50
) -> list[InboxEvent]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    statement = select(InboxEvent).order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(InboxEvent.status == status)
    if event_type is not None:
        statement = statement.where(InboxEvent.type == event_type)
    return list(await session.scalars(statement))


async def replay(worker: InboxWorker, ident: str) -> str:
    """Apply a stored event again now, whatever its status; returns the outcome.

    Safe by construction: handlers apply the provider's current state and keyed side effects,
    so replaying an applied event changes nothing.
    """
    runtime = worker.runtime
    now = runtime.clock.now()
    async with runtime.session_factory() as session:
        row = await find_event(session, ident)
        if row.status == InboxStatus.PROCESSING and row.locked_until is not None and row.locked_until > now:
            raise Conflict(f"event {row.event_id} is being processed by {row.locked_by}; try again shortly")
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == row.id)
            .values(status=InboxStatus.PENDING.value, attempts=0, next_attempt_at=now, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        candidate = Candidate(row.id, row.ordering_key, InboxStatus.PENDING.value, 0)
        claimed = await claim(session, candidate, f"replay:{new_id('lease')}", now, worker.options.lease)
        await session.commit()
    if claimed is None:
        return "queued"  # another event of the same customer holds the lease; the worker will run it
    return await worker.apply(claimed)

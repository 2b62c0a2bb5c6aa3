"""Appending to the billing event log. Entries are never updated or deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import AuditEntry


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a change happens: the provider event (for webhooks) or the actor (cli, user:<id>).

    ``event_created`` is the provider's time of that event (its ``created``), when known: the MRR
    ledger dates changes the object itself carries no time for by it.
    """

    actor: str = "webhook"
    event_id: str | None = None
    event_type: str | None = None
    event_created: datetime | None = None


async def record(
    session: AsyncSession,
    cause: Cause,
    *,
    action: str,
    subject_type: str,
    subject_id: str,
    changes: dict[str, Any] | None = None,
    customer_id: str | None = None,
    user_id: str | None = None,
    message: str | None = None,
) -> AuditEntry:
    """Append one entry to the caller's transaction (flush only)."""
    entry = AuditEntry(
        action=action,
        actor=cause.actor,
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        user_id=user_id,
        event_id=cause.event_id,
        event_type=cause.event_type,
        message=message,
        changes=changes or {},
    )
    session.add(entry)
    await session.flush()
    return entry


async def entries_for(session: AsyncSession, subject_id: str) -> list[AuditEntry]:
    """A subject's history, oldest first."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.occurred_at, AuditEntry.id)
    )
    return list(rows)


async def record_once(
    session: AsyncSession,
    cause: Cause,
    *,
    action: str,
    subject_type: str,
    subject_id: str,
    message: str | None = None,
    customer_id: str | None = None,
) -> AuditEntry | None:
    """Record a fact that changes no mirror row, at most once per (event, action, subject).

    Replaying the causing event must change nothing, so an existing entry wins.
    """
    existing = await session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.event_id == cause.event_id,
            AuditEntry.action == action,
            AuditEntry.subject_id == subject_id,
        )
    )
    if existing is not None:
        return None
    return await record(
        session,
        cause,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        message=message,
        customer_id=customer_id,
    )

"""Queries on ``email_messages`` (and the admin recipients of alerts); services never build SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.models import EmailMessage, OutboxJob, User


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


async def insert_message(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """Insert a message unless its key exists; True when this call inserted it."""
    now = utcnow()
    table: Table = EmailMessage.__table__  # type: ignore[assignment]
    row = {
        "id": new_id("msg"),
        "status": EmailStatus.QUEUED.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    return await insert_ignore(session, table, row, ["key"])


async def get_by_key(session: AsyncSession, key: str) -> EmailMessage | None:
    result = await session.execute(select(EmailMessage).where(EmailMessage.key == key))
    return result.scalar_one_or_none()


async def get(session: AsyncSession, message_id: str) -> EmailMessage | None:
    return await session.get(EmailMessage, message_id)


async def list_messages(
    session: AsyncSession, *, status: EmailStatus | None = None, limit: int = 50
) -> Sequence[EmailMessage]:
    """Newest first."""
    query = select(EmailMessage).order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    if status is not None:
        query = query.where(EmailMessage.status == status.value)
    result = await session.execute(query.limit(limit))
    return result.scalars().all()


async def record_attempt(
    session: AsyncSession,
    message_id: str,
    *,
    status: EmailStatus,
    error: str | None = None,
    provider_message_id: str | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Count one delivery attempt and store its outcome."""
    values: dict[str, Any] = {
        "attempts": EmailMessage.attempts + 1,
        "status": status.value,
        "last_error": error,
        "updated_at": utcnow(),
    }
    if provider_message_id is not None:
        values["provider_message_id"] = provider_message_id
    if sent_at is not None:
        values["sent_at"] = sent_at
    await session.execute(update(EmailMessage).where(EmailMessage.id == message_id).values(**values))


async def admin_emails(session: AsyncSession) -> list[str]:
    """Addresses of active users with the ``admin`` role, in a stable order."""
    query = select(User.email).where(User.role == "admin", User.is_active.is_(True)).order_by(User.email)
    return list((await session.execute(query)).scalars())


async def job_key(session: AsyncSession, job_id: str) -> str | None:
    return (await session.execute(select(OutboxJob.key).where(OutboxJob.id == job_id))).scalar()


async def job_max_attempts(session: AsyncSession, job_id: str) -> int | None:
    query = select(OutboxJob.max_attempts).where(OutboxJob.id == job_id)
    return (await session.execute(query)).scalar()

"""``enqueue``: write a job row in the caller's transaction. The key makes it happen once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.models import OutboxJob


async def enqueue(
    session: AsyncSession,
    job_type: str,
    payload: Mapping[str, Any],
    *,
    key: str,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> bool:
    """Add a job to the caller's transaction; returns False when the key was already enqueued.

    Nothing is committed here: the job exists exactly when the caller's state change does.
    """
    now = utcnow()
    due_at = run_after or now
    table: Table = OutboxJob.__table__  # type: ignore[assignment]
    values = {
        "id": new_id("job"),
        "key": key,
        "type": job_type,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": due_at,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await insert_ignore(session, table, values, ["key"])
    if inserted and session.get_bind().dialect.name == "postgresql" and due_at <= now:
        # Delivered to listening workers only if and when this transaction commits.
        await session.execute(text("SELECT pg_notify('billhook_outbox', '')"))
    return inserted

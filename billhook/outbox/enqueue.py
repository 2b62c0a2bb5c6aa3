"""``enqueue``: write a job row in the caller's transaction. The key makes it happen once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, bindparam, exists, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.models import OutboxJob

_COLUMNS = ("id", "key", "type", "payload", "status", "attempts", "max_attempts", "run_after",
            "created_at", "updated_at")  # fmt: skip


def _insert_if_absent() -> Insert:
    """PostgreSQL: ``INSERT … SELECT … WHERE NOT EXISTS (key) ON CONFLICT DO NOTHING``.

    A bare ``ON CONFLICT DO NOTHING`` on a key whose job is being run waits for the job's
    transaction: the done mark, the first statement of a handler's transaction, is an update in
    progress on the conflicting row, and the unique check waits for it to commit or roll back. If
    the enqueuer holds a row the handler then needs, that is a deadlock. The ``NOT EXISTS``
    reads the committed row without waiting and skips the insert; the ``ON CONFLICT`` still
    settles two enqueuers of a new key.
    """
    table: Table = OutboxJob.__table__  # type: ignore[assignment]
    values = select(*(bindparam(name, type_=table.c[name].type) for name in _COLUMNS))
    absent = values.where(~exists().where(table.c.key == bindparam("key")))
    return (
        postgresql.insert(table)
        .from_select(list(_COLUMNS), absent)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.key)
    )


_INSERT_IF_ABSENT = _insert_if_absent()
_NOTIFY = text("SELECT pg_notify('billhook_outbox', '')")
_NOTIFIED = "billhook.outbox.notified_in"


def _first_notify_in_transaction(session: AsyncSession) -> bool:
    """Whether this (sub)transaction has not notified the workers yet, and now counts as having.

    PostgreSQL folds identical notifications of one transaction into one at commit, so a second
    ``pg_notify`` only costs a round trip. Kept per innermost transaction: a savepoint rolled back
    takes its notification with it, and the enclosing transaction then notifies again.
    """
    sync = session.sync_session
    current = sync.get_nested_transaction() or sync.get_transaction()
    if current is None or session.info.get(_NOTIFIED) is current:
        return current is None
    session.info[_NOTIFIED] = current
    return True


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
    if session.get_bind().dialect.name != "postgresql":
        return await insert_ignore(session, table, values, ["key"])
    inserted = (await session.execute(_INSERT_IF_ABSENT, values)).first() is not None
    if inserted and due_at <= now and _first_notify_in_transaction(session):
        # Delivered to listening workers only if and when this transaction commits.
        await session.execute(_NOTIFY)
    return inserted

"""PostgreSQL ``LISTEN/NOTIFY`` wake-up: jobs start as soon as their transaction commits.

``enqueue`` issues ``pg_notify`` inside the caller's transaction; PostgreSQL delivers it only
on commit (https://www.postgresql.org/docs/current/sql-notify.html), so a rolled-back job
never wakes anyone. Polling stays on as the safety net for lost connections and retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from billhook.logging import get_logger

log = get_logger(__name__)

CHANNEL = "billhook_outbox"


class OutboxListener:
    def __init__(self, engine: AsyncEngine, on_notify: Callable[[], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._connection: asyncpg.Connection | None = None

    async def start(self) -> None:
        try:
            self._connection = await asyncpg.connect(self._dsn, timeout=10)
            await self._connection.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            # Not fatal: the worker polls anyway.
            log.warning("outbox_listen_unavailable", error=str(exc)[:200])
            self._connection = None

    def _notified(self, *_args: Any) -> None:
        self._on_notify()

    async def aclose(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self._connection.close(timeout=5)
            self._connection = None

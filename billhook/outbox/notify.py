"""PostgreSQL ``LISTEN/NOTIFY`` wake-up: jobs start as soon as their transaction commits.

``enqueue`` issues ``pg_notify`` inside the caller's transaction; PostgreSQL delivers it only
on commit (https://www.postgresql.org/docs/current/sql-notify.html), so a rolled-back job
never wakes anyone. Polling stays on as the safety net for lost connections and retries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from billhook.logging import get_logger

log = get_logger(__name__)

CHANNEL = "billhook_outbox"
RECONNECT_EVERY = 5.0  # seconds between attempts to listen again after the connection was lost


class OutboxListener:
    def __init__(self, engine: AsyncEngine, on_notify: Callable[[], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._connection: asyncpg.Connection | None = None
        self._last_attempt = 0.0

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def ensure(self) -> None:
        """Listen again if the connection was lost (a PostgreSQL restart), at most every few seconds.

        Until then the worker only polls: jobs still run, a poll interval later.
        """
        if self.listening or time.monotonic() - self._last_attempt < RECONNECT_EVERY:
            return
        self._last_attempt = time.monotonic()  # before any await: one slot reconnects, not each
        await self.aclose()
        await self.start()
        if self.listening:
            log.info("outbox_listen_restored")

    async def start(self) -> None:
        self._last_attempt = time.monotonic()
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
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._connection.close(timeout=5)
            self._connection = None

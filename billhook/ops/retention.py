"""Retention: done outbox jobs, processed inbox events and old object versions are deleted once
old enough.

:class:`RetentionService` runs in ``billhook worker`` (and the embedded worker): every
``interval`` it deletes in batches, each batch its own short transaction, so a large backlog never
holds locks for long. What each side keeps, and why, is said beside its prune function
(:func:`billhook.outbox.retention.prune_jobs`, :func:`billhook.inbox.retention.prune_events`,
:func:`billhook.models.object_versions.prune_versions`, which keeps versions as long as events).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.inbox.retention import prune_events
from billhook.logging import get_logger
from billhook.models.object_versions import prune_versions
from billhook.outbox.retention import prune_jobs

if TYPE_CHECKING:
    from billhook.runtime import Runtime

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Retention:
    jobs: timedelta = timedelta(days=7)
    events: timedelta = timedelta(days=30)
    batch: int = 1000
    interval: float = 3600.0  # seconds between prunes


Prune = Callable[[AsyncSession, datetime, timedelta, int], Awaitable[int]]


class RetentionService:
    """A runtime service that prunes now and then; ``prune_once()`` for tests and the CLI."""

    def __init__(self, runtime: Runtime, retention: Retention | None = None) -> None:
        self.runtime = runtime
        self.retention = retention or Retention()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def prune_once(self) -> dict[str, int]:
        """Delete everything past its retention, batch by batch; returns how many of each."""
        plan: dict[str, tuple[Prune, timedelta]] = {
            "jobs": (prune_jobs, self.retention.jobs),
            "events": (prune_events, self.retention.events),
            "versions": (prune_versions, self.retention.events),
        }
        counts = dict.fromkeys(plan, 0)
        for name, (prune, keep) in plan.items():
            while not self._stopping.is_set():
                async with self.runtime.session_factory() as session:
                    deleted = await prune(session, self.runtime.clock.now(), keep, self.retention.batch)
                    await session.commit()
                counts[name] += deleted
                if deleted < self.retention.batch:
                    break
        return counts

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="retention")

    async def aclose(self) -> None:
        """Stop after the batch in progress, never inside it: a SQLAlchemy session cancelled
        mid-transaction may skip its rollback, and on SQLite that connection then keeps the one
        write lock, so every other writer of the process waits out ``busy_timeout``."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                counts = await self.prune_once()
                if any(counts.values()):
                    log.info("retention_pruned", **counts)
            except (SQLAlchemyError, OSError) as exc:  # the database is away: try at the next interval
                log.warning("retention_failed", error=str(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.retention.interval)

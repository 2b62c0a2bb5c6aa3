"""Stopping a background task, or a piece of work that may be abandoned on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished unwinding."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """Await ``work``, but cancel it and return None as soon as ``stop`` is set.

    For a wait that is safe to abandon, such as a provider's answer, which may take as long as
    the SDK's timeouts and retries allow. Never for work holding a database session: a
    SQLAlchemy session cancelled mid-transaction may skip its rollback, and on SQLite that
    connection then keeps the one write lock.
    """
    task = asyncio.create_task(work)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # cancelled from outside: the work goes with us
        task.cancel()
        raise
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    await cancel_and_wait(task)
    return None

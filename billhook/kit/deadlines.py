"""Coarse deadlines: many short waits bounded by one periodic sweep instead of a timer each.

The webhook receiver bounds every delivery twice, once on the body's arrival and once on the
store's commit. With ``asyncio.timeout`` each bound costs a timer created and cancelled per
request plus the ``Timeout`` object's bookkeeping in Python: callgrind counted about 32,000
instructions per delivery for the two, 5% of the server's work and the whole of the ingest
regression measured against issue #20's baseline (bench/RESULTS.md, "Webhook ingest").

Here a wait registers its task in a dict; one timer per ``resolution`` seconds, running only
while something is registered, cancels the tasks whose deadline has passed, and the wait turns
that cancellation back into ``TimeoutError`` (``Task.uncancel``, as ``asyncio.timeout`` does). A
deadline fires between ``seconds`` and ``seconds + resolution`` after the wait starts, never
before.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class Deadlines:
    """Bounds waits of the tasks of one event loop at a time (the loop of the latest wait)."""

    def __init__(self, resolution: float = 0.25) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be positive")
        self._resolution = resolution
        self._tick = 0
        self._due: dict[asyncio.Task[Any], int] = {}
        self._fired: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def wait(self, awaitable: Awaitable[T], seconds: float) -> T:
        """``await awaitable``; ``TimeoutError`` once ``seconds`` have passed.

        The awaitable is cancelled on the deadline, as ``asyncio.timeout`` would: a future is
        cancelled, a coroutine gets ``CancelledError`` where it waits. A cancellation from
        elsewhere (shutdown) still propagates as ``CancelledError``.
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadlines.wait must run inside a task")
        outer = self._due.get(task)  # a wait inside a wait: the outer one's deadline comes back
        # The next sweep comes at most one resolution from now, so one tick more than the
        # deadline's length never fires early. (Inline: this runs twice per webhook delivery.)
        self._due[task] = self._tick + 1 + math.ceil(seconds / self._resolution)
        if self._timer is None or self._loop is not task.get_loop():
            self._start_sweeping(task.get_loop())
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._withdrawn(task):
                raise TimeoutError from None
            raise
        finally:
            if outer is None:
                self._due.pop(task, None)
            else:
                self._due[task] = outer

    def _start_sweeping(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:  # a loop of an earlier run (tests): forget its waits
            if self._timer is not None:
                self._timer.cancel()
            self._due = {task: due for task, due in self._due.items() if task.get_loop() is loop}
            self._fired = {task for task in self._fired if task.get_loop() is loop}
        self._loop = loop
        self._timer = loop.call_later(self._resolution, self._sweep)

    def _withdrawn(self, task: asyncio.Task[Any]) -> bool:
        """True if ``task`` was cancelled for its deadline, and by nothing else; then uncancelled."""
        if task not in self._fired:
            return False
        self._fired.discard(task)
        return task.uncancel() == 0

    def _sweep(self) -> None:
        self._tick += 1
        expired = [task for task, due in self._due.items() if due <= self._tick]
        for task in expired:
            del self._due[task]
            if not task.done():
                self._fired.add(task)
                task.cancel()
        self._fired = {task for task in self._fired if not task.done()}
        if self._due and self._loop is not None and not self._loop.is_closed():
            self._timer = self._loop.call_later(self._resolution, self._sweep)
        else:
            self._timer = None

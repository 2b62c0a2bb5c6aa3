"""``unless_stopped``: work that shutdown may abandon, and never waits on."""

from __future__ import annotations

import asyncio

import pytest

from billhook.kit.tasks import unless_stopped


async def test_work_that_finishes_gives_its_result() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 7

    assert await unless_stopped(work(), asyncio.Event()) == 7


async def test_an_error_of_the_work_is_raised() -> None:
    async def work() -> None:
        raise ValueError("provider said no")

    with pytest.raises(ValueError, match="provider said no"):
        await unless_stopped(work(), asyncio.Event())


class Hangs:
    """Work that never finishes by itself; it tells when it started and when it unwound."""

    def __init__(self) -> None:
        self.started, self.unwound = asyncio.Event(), asyncio.Event()

    async def run(self) -> int:
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.unwound.set()
        return 1


async def test_stopping_cancels_work_that_does_not_answer() -> None:
    stop, work = asyncio.Event(), Hangs()
    pending = asyncio.create_task(unless_stopped(work.run(), stop))
    await work.started.wait()
    stop.set()
    assert await asyncio.wait_for(pending, 2) is None
    assert work.unwound.is_set()  # cancelled and unwound before unless_stopped returned


async def test_cancelling_the_caller_cancels_the_work() -> None:
    work = Hangs()
    caller = asyncio.create_task(unless_stopped(work.run(), asyncio.Event()))
    await work.started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.wait_for(work.unwound.wait(), 2)

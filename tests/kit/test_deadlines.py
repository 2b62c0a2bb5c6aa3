"""Coarse deadlines: a wait is bounded, never cut short, and one timer serves many waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from billhook.kit.deadlines import Deadlines

RESOLUTION = 0.05


async def test_a_wait_that_finishes_in_time_returns_its_value() -> None:
    deadlines = Deadlines(RESOLUTION)

    async def answer() -> str:
        await asyncio.sleep(0.01)
        return "stored"

    assert await deadlines.wait(answer(), 1.0) == "stored"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_wait_past_its_deadline_raises_timeout_error_not_before_it() -> None:
    deadlines = Deadlines(RESOLUTION)
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        await deadlines.wait(asyncio.sleep(10), 0.2)

    waited = time.monotonic() - started
    assert 0.2 <= waited < 0.2 + RESOLUTION + 0.5
    # The task was given back: it is not cancelled and can wait again.
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0.01)


async def test_a_future_is_cancelled_on_the_deadline() -> None:
    deadlines = Deadlines(RESOLUTION)
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    with pytest.raises(TimeoutError):
        await deadlines.wait(future, 0.1)

    assert future.cancelled()


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    deadlines = Deadlines(RESOLUTION)
    task = asyncio.create_task(deadlines.wait(asyncio.sleep(10), 5.0))
    await asyncio.sleep(0.05)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_from_elsewhere_at_the_deadline_still_propagates() -> None:
    deadlines = Deadlines(RESOLUTION)
    caught: list[BaseException] = []

    async def waiter() -> None:
        try:
            await deadlines.wait(asyncio.sleep(10), 0.1)
        except BaseException as exc:
            caught.append(exc)
            raise

    task = asyncio.create_task(waiter())
    while not deadlines._fired:  # the sweep has cancelled it for its deadline
        await asyncio.sleep(0)
    task.cancel()  # ...and a shutdown cancels it too, before it runs again

    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(caught[0], asyncio.CancelledError)


async def test_many_waits_share_one_timer() -> None:
    deadlines = Deadlines(1.0)
    loop = asyncio.get_running_loop()
    scheduled: list[float] = []
    call_later = loop.call_later

    def counting(delay: float, *args: object) -> asyncio.TimerHandle:
        scheduled.append(delay)
        return call_later(delay, *args)  # type: ignore[arg-type]

    loop.call_later = counting  # type: ignore[method-assign]
    try:
        results = await asyncio.gather(*(deadlines.wait(asyncio.sleep(0.01, n), 5.0) for n in range(100)))
    finally:
        del loop.call_later  # type: ignore[method-assign]

    assert results == list(range(100))
    assert scheduled.count(1.0) == 1


async def test_the_sweep_stops_when_nothing_waits() -> None:
    deadlines = Deadlines(RESOLUTION)
    await deadlines.wait(asyncio.sleep(0), 1.0)

    await asyncio.sleep(RESOLUTION * 3)

    assert deadlines._timer is None


def test_the_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        Deadlines(0)


def test_waits_left_behind_on_a_closed_loop_are_forgotten_not_swept_from_the_next_loop() -> None:
    deadlines = Deadlines(RESOLUTION)
    abandoned = asyncio.new_event_loop()
    left = abandoned.create_task(deadlines.wait(asyncio.sleep(10), 0.01))
    abandoned.run_until_complete(asyncio.sleep(0))  # the wait has started, and is never finished
    abandoned.close()
    assert not left.done()

    async def bounded() -> None:
        with pytest.raises(TimeoutError):
            await deadlines.wait(asyncio.sleep(10), 0.2)

    async def within_seconds() -> None:  # a sweep that stopped would leave the wait unbounded
        await asyncio.wait_for(bounded(), 5)

    asyncio.run(within_seconds())
    assert left.cancelling() == 0  # its loop is gone: nothing of it is touched from another


async def test_an_inner_wait_gives_the_outer_one_its_deadline_back() -> None:
    deadlines = Deadlines(RESOLUTION)

    async def inner_then_wait() -> None:
        await deadlines.wait(asyncio.sleep(0.01), 5.0)  # finishes; the outer bound must hold again
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await deadlines.wait(inner_then_wait(), 0.2)

    assert time.monotonic() - started < 0.2 + RESOLUTION + 0.5

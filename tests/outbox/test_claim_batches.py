"""A slot claims a backlog several jobs at a time, and one job at a time when there is none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from billhook.kit.clock import FrozenClock, utcnow
from billhook.outbox import enqueue
from billhook.outbox.repository import ClaimedJob
from billhook.outbox.worker import MAX_CLAIM_BATCH, OutboxWorker
from billhook.runtime import Runtime
from tests.support.outbox import EFFECT, build_runtime, count_effects


class CountingWorker(OutboxWorker):
    """The worker, recording how many jobs each claim asked for and got."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, concurrency=1, listen=False, poll_interval=0.05)
        self.claims: list[tuple[int, int]] = []

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        jobs = await super()._claim(limit)
        self.claims.append((limit, len(jobs)))
        return jobs


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(database_url, FrozenClock(utcnow() + timedelta(minutes=1)))
    yield runtime
    await runtime.aclose()


async def test_a_backlog_is_claimed_in_growing_batches(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        for n in range(40):
            await enqueue(session, EFFECT, {}, key=f"backlog:{n}")
        await session.commit()
    worker = CountingWorker(runtime)
    await worker.start()
    try:
        async with asyncio.timeout(30):
            while await count_effects(runtime.session_factory) < 40:
                await asyncio.sleep(0.05)
    finally:
        await worker.aclose()
    asked = [limit for limit, got in worker.claims if got]
    assert asked[:4] == [1, 2, 4, 8]
    assert max(asked) == MAX_CLAIM_BATCH
    assert sum(got for _limit, got in worker.claims) == 40
    assert len([got for _limit, got in worker.claims if got]) < 10  # not one claim per job

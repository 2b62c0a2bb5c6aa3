"""Enqueuing the key of a job that is being run neither waits for it nor inserts a second job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from billhook.kit.clock import utcnow
from billhook.models import JobStatus, OutboxJob
from billhook.outbox import enqueue, repository
from tests.support.outbox import EFFECT, build_runtime


async def test_enqueuing_a_running_jobs_key_does_not_wait_for_its_handler(database_url: str) -> None:
    # On PostgreSQL the done mark opens the handler's transaction; a bare ON CONFLICT on the
    # same key would wait for that transaction, a deadlock if the handler then needs a row the
    # enqueuer holds.
    runtime = build_runtime(database_url)
    try:
        async with runtime.session_factory() as session:
            await enqueue(session, EFFECT, {}, key="busy")
            await session.commit()
            [job] = await repository.claim(
                session, worker_id="w1", now=utcnow(), lease=timedelta(minutes=5), limit=1
            )
            await session.commit()
        async with runtime.session_factory() as handler:
            assert await repository.mark_done(handler, job.id, "w1", utcnow())
            if runtime.engine.dialect.name == "sqlite":
                await handler.commit()  # one writer: the enqueuer would wait for any writer
            async with runtime.session_factory() as producer:
                async with asyncio.timeout(5):
                    assert await enqueue(producer, EFFECT, {}, key="busy") is False
                await producer.commit()
            await handler.commit()
        async with runtime.session_factory() as session:
            jobs = await session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status))
            assert jobs.all() == [(JobStatus.DONE, 1)]
    finally:
        await runtime.aclose()

"""Enqueuing the key of a job that is being run neither waits for it nor inserts a second job."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

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


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_jobs_enqueued_together_notify_the_workers_once_per_transaction(database_url: str) -> None:
    runtime = build_runtime(database_url)
    notifies: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "pg_notify" in statement:
            notifies.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with runtime.session_factory() as session:
            for n in range(3):
                await enqueue(session, EFFECT, {}, key=f"together-{n}")
            await session.commit()
        assert len(notifies) == 1
        async with runtime.session_factory() as session:
            await enqueue(session, EFFECT, {}, key="in-savepoint")
            savepoint = await session.begin_nested()
            await enqueue(session, EFFECT, {}, key="inside")
            await savepoint.rollback()  # takes its notification with it
            await enqueue(session, EFFECT, {}, key="after-savepoint")
            await session.commit()
        assert len(notifies) == 4  # the transaction, the savepoint, the transaction again
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
        await runtime.aclose()

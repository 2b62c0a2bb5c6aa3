"""Scale-out on PostgreSQL: several workers, each with its own connection pool, share one queue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from billhook.models import AuditEntry, JobStatus, OutboxJob
from billhook.outbox import JobContext
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime
from tests.support.outbox import EFFECT, build_runtime, record_effect

JOBS = 2_000
WORKERS = 4


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_four_workers_run_each_of_2000_jobs_exactly_once(database_url: str) -> None:
    runtimes: list[Runtime] = [build_runtime(database_url) for _ in range(WORKERS)]
    running: set[str] = set()
    overlaps: list[str] = []
    ran_by: Counter[str] = Counter()

    def watched(worker_id: str) -> object:
        async def handler(ctx: JobContext) -> None:
            if ctx.job_id in running:
                overlaps.append(ctx.job_id)
            running.add(ctx.job_id)
            try:
                await asyncio.sleep(0)  # let other workers interleave
                await record_effect(ctx)
            finally:
                running.discard(ctx.job_id)
            ran_by[worker_id] += 1

        return handler

    for number, runtime in enumerate(runtimes):
        runtime.jobs._definitions.pop(EFFECT)
        runtime.jobs.register(EFFECT, watched(f"w{number}"))  # type: ignore[arg-type]
    async with runtimes[0].session_factory() as session:
        now = runtimes[0].clock.now()
        rows = [{"id": f"job_{n:05d}", "key": f"bulk:{n}", "type": EFFECT, "payload": {}, "status": "pending",
                 "attempts": 0, "max_attempts": 5, "run_after": now, "created_at": now, "updated_at": now}
                for n in range(JOBS)]  # fmt: skip
        await session.execute(insert(OutboxJob), rows)
        await session.commit()

    workers = [OutboxWorker(runtime, concurrency=2, poll_interval=0.05) for runtime in runtimes]
    for worker in workers:
        await worker.start()
    try:
        deadline = time.monotonic() + 90
        while await _done(runtimes[0]) < JOBS:
            assert time.monotonic() < deadline, "jobs were lost or stuck"
            await asyncio.sleep(0.1)
    finally:
        for worker in workers:
            await worker.aclose()

    async with runtimes[0].session_factory() as session:
        per_job = await session.execute(
            select(AuditEntry.subject_id, func.count()).group_by(AuditEntry.subject_id)
        )
        counts = {subject: int(count) for subject, count in per_job.all()}
    assert len(counts) == JOBS and set(counts.values()) == {1}
    assert overlaps == []
    assert sum(ran_by.values()) == JOBS
    assert len(ran_by) == WORKERS  # every worker took a share
    for runtime in runtimes:
        await runtime.aclose()


async def _done(runtime: Runtime) -> int:
    async with runtime.session_factory() as session:
        statement = select(func.count()).select_from(OutboxJob).where(OutboxJob.status == JobStatus.DONE)
        return int((await session.execute(statement)).scalar_one())

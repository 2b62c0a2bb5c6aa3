from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.kit.clock import FrozenClock, utcnow
from billhook.models import JobStatus, OutboxJob
from billhook.outbox import JobContext, enqueue
from billhook.outbox.worker import DEAD_LETTER_ALERT, OutboxWorker
from billhook.runtime import Runtime
from tests.support.outbox import EFFECT, FLAKY, HANG_FIRST, build_runtime, count_effects, record_effect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> FrozenClock:
    # ``enqueue`` stamps jobs with the real time; the worker's frozen clock starts past it.
    return FrozenClock(utcnow() + timedelta(minutes=1))


@pytest.fixture
async def runtime(database_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    runtime = build_runtime(database_url, clock)
    yield runtime
    await runtime.aclose()


async def _enqueue(runtime: Runtime, job_type: str, key: str, **payload: object) -> str:
    async with runtime.session_factory() as session:
        await enqueue(session, job_type, payload, key=key)
        await session.commit()
        job = (await session.execute(select(OutboxJob).where(OutboxJob.key == key))).scalar_one()
    return job.id


async def _job(runtime: Runtime, job_id: str) -> OutboxJob:
    async with runtime.session_factory() as session:
        return await session.get_one(OutboxJob, job_id)


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.outbox_worker_process", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


async def test_a_job_from_a_rolled_back_transaction_never_runs(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await enqueue(session, EFFECT, {}, key="rolled-back")
        await session.rollback()
    committed = await _enqueue(runtime, EFFECT, "committed")

    assert await OutboxWorker(runtime).drain() == 1
    assert await count_effects(runtime.session_factory) == 1
    assert (await _job(runtime, committed)).status == JobStatus.DONE
    async with runtime.session_factory() as session:
        assert (
            await session.execute(select(OutboxJob).where(OutboxJob.key == "rolled-back"))
        ).first() is None


async def test_enqueuing_a_key_twice_runs_once(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        assert await enqueue(session, EFFECT, {}, key="once") is True
        assert await enqueue(session, EFFECT, {}, key="once") is False
        await session.commit()
    assert await OutboxWorker(runtime).drain() == 1
    assert await count_effects(runtime.session_factory) == 1


async def test_a_job_committed_just_before_sigkill_still_runs(database_url: str, runtime: Runtime) -> None:
    child = _spawn("enqueue", database_url, "killed-after-commit")
    assert child.stdout is not None
    line = await asyncio.to_thread(child.stdout.readline)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert line.strip() == "committed"

    assert await OutboxWorker(runtime).drain() == 1
    assert await count_effects(runtime.session_factory) == 1


async def test_a_worker_killed_mid_job_completes_it_once_after_restart(
    database_url: str, runtime: Runtime, clock: FrozenClock, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    job_id = await _enqueue(runtime, HANG_FIRST, "hang", marker=str(marker))
    child = _spawn("work", database_url)
    try:
        await asyncio.to_thread(_wait_for, marker.exists)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    job = await _job(runtime, job_id)
    assert job.locked_until is not None and job.state(job.locked_until) == JobStatus.RUNNING  # leased

    clock.advance(timedelta(minutes=1))  # the dead worker's 1 s lease has expired
    assert await OutboxWorker(runtime).drain() == 1
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert await count_effects(runtime.session_factory, job_id) == 1


async def test_failures_back_off_then_succeed(runtime: Runtime, clock: FrozenClock) -> None:
    job_id = await _enqueue(runtime, FLAKY, "flaky", succeed_on=3)
    worker = OutboxWorker(runtime)

    assert await worker.drain() == 1
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.last_error is not None and "attempt 1 failed" in job.last_error
    assert "sk_test_" not in job.last_error  # secrets never kept
    delay = job.run_after - clock.now()
    assert timedelta(seconds=0.8) <= delay <= timedelta(seconds=1.2)  # 1 s ± 20 %

    assert await worker.drain() == 0  # not due yet
    clock.advance(timedelta(seconds=2))
    assert await worker.drain() == 1
    job = await _job(runtime, job_id)
    assert timedelta(seconds=1.6) <= job.run_after - clock.now() <= timedelta(seconds=2.4)

    clock.advance(timedelta(seconds=3))
    assert await worker.drain() == 1
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 3, None)
    assert await count_effects(runtime.session_factory, job_id) == 1  # failed attempts rolled back


async def _dead_letters(runtime: Runtime, job_id: str) -> list[OutboxJob]:
    async with runtime.session_factory() as session:
        rows = await session.execute(select(OutboxJob).where(OutboxJob.type == DEAD_LETTER_ALERT))
        return [job for job in rows.scalars() if job.payload["job_id"] == job_id]


async def test_exhausted_attempts_dead_letter_the_job_and_raise_an_alert(
    runtime: Runtime, clock: FrozenClock
) -> None:
    async with runtime.session_factory() as session:
        await enqueue(session, FLAKY, {}, key="hopeless", max_attempts=2)
        await session.commit()
    worker = OutboxWorker(runtime)
    await worker.drain()
    clock.advance(timedelta(minutes=1))
    await worker.drain()

    async with runtime.session_factory() as session:
        job = (await session.execute(select(OutboxJob).where(OutboxJob.key == "hopeless"))).scalar_one()
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    assert job.last_error is not None and "gave up after 2 attempts" in job.last_error
    alerts = await _dead_letters(runtime, job.id)
    assert [alert.key for alert in alerts] == [f"dead_letter_alert:{job.id}"]
    assert alerts[0].status == JobStatus.DEAD  # no email handler registered in this test


async def test_a_permanent_error_dead_letters_at_once(runtime: Runtime) -> None:
    job_id = await _enqueue(runtime, FLAKY, "permanent", permanent=True)
    await OutboxWorker(runtime).drain()
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert job.last_error is not None and "PermanentJobError: the address does not exist" in job.last_error


async def test_an_unknown_job_type_is_dead_lettered_with_a_clear_error(runtime: Runtime) -> None:
    job_id = await _enqueue(runtime, "nobody.handles.this", "unknown")
    await OutboxWorker(runtime).drain()
    job = await _job(runtime, job_id)
    assert job.status == JobStatus.DEAD
    assert job.last_error == "UnknownJobType: no handler is registered for job type 'nobody.handles.this'"
    assert len(await _dead_letters(runtime, job_id)) == 1


async def test_an_expired_lease_is_reclaimed(runtime: Runtime, clock: FrozenClock) -> None:
    job_id = await _enqueue(runtime, EFFECT, "abandoned")
    async with runtime.session_factory() as session:
        await session.execute(
            update(OutboxJob).where(OutboxJob.id == job_id).values(
                locked_by="gone", attempts=1,
                locked_until=clock.now() + timedelta(seconds=30),
            )
        )  # fmt: skip
        await session.commit()
    assert (await _job(runtime, job_id)).state(clock.now()) == JobStatus.RUNNING
    worker = OutboxWorker(runtime)
    assert await worker.drain() == 0  # the lease still holds
    clock.advance(timedelta(seconds=31))
    assert (await _job(runtime, job_id)).state(clock.now()) == JobStatus.PENDING
    assert await worker.drain() == 1
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.DONE, 2, None)


async def test_graceful_shutdown_finishes_in_flight_jobs(database_url: str) -> None:
    runtime = build_runtime(database_url)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await release.wait()
        await record_effect(ctx)

    runtime.jobs.register("test.slow", slow)
    job_id = await _enqueue(runtime, "test.slow", "slow")
    worker = OutboxWorker(runtime, poll_interval=0.05, grace=10)
    await worker.start()
    await asyncio.wait_for(started.wait(), 10)
    closing = asyncio.create_task(worker.aclose())
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(closing, 10)
    assert (await _job(runtime, job_id)).status == JobStatus.DONE
    assert await count_effects(runtime.session_factory, job_id) == 1
    await runtime.aclose()


async def test_shutdown_releases_jobs_that_outlive_the_grace_period(
    database_url: str, tmp_path: Path
) -> None:
    runtime = build_runtime(database_url)
    marker = tmp_path / "started"
    job_id = await _enqueue(runtime, HANG_FIRST, "stuck", marker=str(marker))
    worker = OutboxWorker(runtime, poll_interval=0.05, grace=0.2)
    await worker.start()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await worker.aclose()

    job = await _job(runtime, job_id)
    assert (job.status, job.attempts, job.locked_by) == (JobStatus.PENDING, 0, None)
    assert await count_effects(runtime.session_factory) == 0  # the interrupted run was rolled back
    await runtime.aclose()


async def test_a_started_worker_runs_a_job_enqueued_later(database_url: str) -> None:
    runtime = build_runtime(database_url)
    worker = OutboxWorker(runtime, poll_interval=0.05)
    await worker.start()
    try:
        job_id = await _enqueue(runtime, EFFECT, "later")
        deadline = time.monotonic() + 10
        while (await _job(runtime, job_id)).status != JobStatus.DONE:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await worker.aclose()
        await runtime.aclose()


async def test_a_handler_cannot_outlive_its_lease(
    runtime: Runtime, clock: FrozenClock, tmp_path: Path
) -> None:
    job_id = await _enqueue(runtime, HANG_FIRST, "too-slow", marker=str(tmp_path / "started"))
    worker = OutboxWorker(runtime, lease=timedelta(seconds=1))
    assert await worker.drain() == 1  # the first attempt hangs and is cut off at 0.9 s
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.last_error is not None and job.last_error.startswith("TimeoutError")
    clock.advance(timedelta(minutes=1))
    assert await worker.drain() == 1
    assert (await _job(runtime, job_id)).status == JobStatus.DONE
    assert await count_effects(runtime.session_factory, job_id) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_listen_notify_wakes_an_idle_worker_at_commit(database_url: str) -> None:
    runtime = build_runtime(database_url)
    worker = OutboxWorker(runtime, poll_interval=60)  # only a notification can wake it in time
    await worker.start()
    try:
        await asyncio.sleep(0.2)  # let the slot go idle
        job_id = await _enqueue(runtime, EFFECT, "notified")
        deadline = time.monotonic() + 10
        while (await _job(runtime, job_id)).status != JobStatus.DONE:
            assert time.monotonic() < deadline, "the worker was not woken by NOTIFY"
            await asyncio.sleep(0.02)
    finally:
        await worker.aclose()
        await runtime.aclose()


async def test_a_job_whose_outcome_could_not_be_written_is_handed_back_when_the_database_returns(
    runtime: Runtime, clock: FrozenClock
) -> None:
    job_id = await _enqueue(runtime, FLAKY, "unrecorded", succeed_on=2)
    real_factory, calls = runtime.session_factory, [0]

    def flaky_database() -> AsyncSession:
        calls[0] += 1
        if calls[0] == 3:  # claim, handler, then the write of the failure: the connection drops
            raise OSError("connection reset by peer")
        return real_factory()

    runtime.session_factory = flaky_database  # type: ignore[assignment]
    worker = OutboxWorker(runtime)
    with pytest.raises(OSError, match="connection reset"):
        await worker.run_once()
    assert (await _job(runtime, job_id)).state(clock.now()) == JobStatus.RUNNING  # its outcome is unknown

    assert await worker.drain() == 1  # handed back at once, not after the 5-minute lease
    job = await _job(runtime, job_id)
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)

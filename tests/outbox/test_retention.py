"""Retention: done jobs and processed events go once old enough; everything else stays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.config import SettingsError
from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.kit.clock import FrozenClock, utcnow
from billhook.models import InboxEvent, JobStatus, OutboxJob
from billhook.models.object_versions import VERSION_FLOOR, record_versions, versions_of
from billhook.ops import retention as retention_module
from billhook.ops.retention import Retention, RetentionService
from billhook.outbox import enqueue
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.inbox import event_payload
from tests.support.outbox import build_runtime
from tests.support.stopping import HeldRound

NOW = utcnow()


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(database_url, FrozenClock(NOW))
    yield runtime
    await runtime.aclose()


async def add_jobs(runtime: Runtime) -> None:
    """Done 10 days ago, done yesterday, dead 10 days ago, pending."""
    async with runtime.session_factory() as session:
        for key in ("old-done", "new-done", "old-dead", "pending"):
            await enqueue(session, "test.effect", {}, key=key)
        for key, status, age in (("old-done", JobStatus.DONE, 10), ("new-done", JobStatus.DONE, 1),
                                 ("old-dead", JobStatus.DEAD, 10)):  # fmt: skip
            finished = NOW - timedelta(days=age)
            await session.execute(
                update(OutboxJob).where(OutboxJob.key == key).values(status=status, finished_at=finished)
            )
        await session.commit()


async def add_events(runtime: Runtime) -> dict[str, str]:
    """Processed 40 and 20 days ago, dead 40 days ago; returns event id by name."""
    ids = {}
    async with runtime.session_factory() as session:
        for name, status, age in (
            ("old", "processed", 40),
            ("recent", "processed", 20),
            ("dead", "dead", 40),
        ):
            payload = event_payload()
            ids[name] = payload["id"]
            await insert_events(session, [Incoming(read_envelope(payload), payload, "webhook", None, NOW)])
            when = NOW - timedelta(days=age)
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.event_id == payload["id"])
                .values(status=status, processed_at=when if status == "processed" else None)
            )
        await session.commit()
    return ids


async def test_done_jobs_past_their_retention_are_pruned_dead_ones_never(runtime: Runtime) -> None:
    await add_jobs(runtime)
    counts = await RetentionService(runtime, Retention(jobs=timedelta(days=7), batch=1)).prune_once()
    async with runtime.session_factory() as session:
        left = set(await session.scalars(select(OutboxJob.key)))
    assert left == {"new-done", "old-dead", "pending"}
    assert counts["jobs"] == 1


async def test_processed_events_are_kept_at_least_30_days(runtime: Runtime) -> None:
    ids = await add_events(runtime)
    counts = await RetentionService(runtime, Retention(events=timedelta(days=1))).prune_once()
    async with runtime.session_factory() as session:
        left = set(await session.scalars(select(InboxEvent.event_id)))
    assert left == {ids["recent"], ids["dead"]}
    assert counts["events"] == 1


def test_inbox_retention_under_30_days_is_refused() -> None:
    with pytest.raises(SettingsError, match="BILLHOOK_INBOX_RETENTION_DAYS"):
        make_settings("sqlite+aiosqlite://", billhook_inbox_retention_days=3)


async def test_old_object_versions_are_pruned_under_a_floor_that_keeps_their_guard(runtime: Runtime) -> None:
    old_one, old_two, recent = (
        ("subscription", "sub_old1"),
        ("customer", "cus_old2"),
        ("subscription", "sub_new"),
    )
    async with runtime.session_factory() as session:
        await record_versions(
            session,
            {
                old_one: NOW - timedelta(days=40),
                old_two: NOW - timedelta(days=35),
                recent: NOW - timedelta(days=10),
            },
        )
        await session.commit()

    counts = await RetentionService(runtime, Retention(events=timedelta(days=30), batch=1)).prune_once()

    async with runtime.session_factory() as session:
        left = await versions_of(session, [old_one, old_two, recent, VERSION_FLOOR])
    assert counts["versions"] == 2
    assert set(left) == {recent, VERSION_FLOOR}
    assert left[VERSION_FLOOR] == NOW - timedelta(days=30)
    # What stands for a pruned object now is no older than its version was: no snapshot older
    # than its last applied state can pass.
    assert left[VERSION_FLOOR] >= NOW - timedelta(days=35)


async def test_pruning_versions_never_lowers_the_floor(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await record_versions(session, {VERSION_FLOOR: NOW - timedelta(days=1)})
        await session.commit()

    await RetentionService(runtime, Retention(events=timedelta(days=30))).prune_once()

    async with runtime.session_factory() as session:
        floor = await versions_of(session, [VERSION_FLOOR])
    assert floor[VERSION_FLOOR] == NOW - timedelta(days=1)


async def test_stopping_waits_for_the_batch_in_progress_instead_of_cutting_it(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch cut by cancellation may skip its rollback; on SQLite its connection then keeps the
    write lock and every other writer waits out busy_timeout (seen stopping ``billhook worker``)."""
    held = HeldRound()

    async def slow_batch(session: AsyncSession, now: datetime, keep: timedelta, batch: int) -> int:
        await session.execute(update(OutboxJob).values(attempts=OutboxJob.attempts))
        await held.hold()
        return 0

    monkeypatch.setattr(retention_module, "prune_jobs", slow_batch)
    service = RetentionService(runtime, Retention(interval=3600))
    await service.start()
    await held.assert_stop_waits(service.aclose())
    async with runtime.session_factory() as session:  # the write lock is free: a write goes through
        await session.execute(update(OutboxJob).values(attempts=0))
        await session.commit()


async def test_stopping_between_runs_is_immediate(runtime: Runtime) -> None:
    service = RetentionService(runtime, Retention(interval=3600))
    await service.start()
    await asyncio.sleep(0.2)  # the first run is done; it waits for the next
    await asyncio.wait_for(service.aclose(), 2)

"""Test job types whose side effect is a countable row, and a Runtime built for a test database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.kit.clock import Clock, utcnow
from billhook.kit.ids import new_id
from billhook.models import AuditEntry
from billhook.outbox import JobContext, JobRegistry, PermanentJobError, RetryPolicy
from billhook.runtime import Runtime
from tests.support.databases import make_settings

EFFECT = "test.effect"
FLAKY = "test.flaky"
HANG_FIRST = "test.hang_first"
BROKEN = "test.broken"
FAST = RetryPolicy(max_attempts=5)


async def record_effect(ctx: JobContext) -> None:
    """The side effect: one audit row per run, committed with the job's done mark."""
    row = {"id": new_id("aud"), "occurred_at": utcnow(), "action": "test.effect", "actor": "worker",
           "subject_type": "job", "subject_id": ctx.job_id, "changes": {}}  # fmt: skip
    await ctx.session.execute(insert(AuditEntry), [row])


async def flaky(ctx: JobContext) -> None:
    """Fails until its payload's ``succeed_on`` attempt; a permanent failure if asked."""
    if ctx.payload.get("permanent"):
        raise PermanentJobError("the address does not exist")
    await record_effect(ctx)
    if ctx.attempt < int(ctx.payload.get("succeed_on", 10**6)):
        raise RuntimeError(f"attempt {ctx.attempt} failed with sk_test_{'a' * 24}")


async def hang_first(ctx: JobContext) -> None:
    """Writes its effect, says so through a marker file, then hangs on its first attempt."""
    await record_effect(ctx)
    if ctx.attempt == 1:
        Path(ctx.payload["marker"]).write_text(ctx.job_id)
        await asyncio.Event().wait()


def register_test_jobs(registry: JobRegistry) -> None:
    registry.register(EFFECT, record_effect, FAST)
    registry.register(FLAKY, flaky, FAST)
    registry.register(HANG_FIRST, hang_first, FAST)


def build_runtime(database_url: str, clock: Clock | None = None) -> Runtime:
    runtime = Runtime.build(make_settings(database_url), clock=clock)
    register_test_jobs(runtime.jobs)
    return runtime


async def count_effects(session_factory: async_sessionmaker[AsyncSession], job_id: str | None = None) -> int:
    statement = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.effect")
    if job_id is not None:
        statement = statement.where(AuditEntry.subject_id == job_id)
    async with session_factory() as session:
        return int((await session.execute(statement)).scalar_one())

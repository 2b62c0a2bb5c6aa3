"""Typed job contracts: payloads checked when enqueued and again before the handler runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from billhook.kit.clock import FrozenClock, utcnow
from billhook.models import JobStatus, OutboxJob
from billhook.outbox import JobContext, enqueue
from billhook.outbox.contracts import CONTRACTS, SEND_EMAIL, JobContract, JobPayload, SendEmail
from billhook.outbox.jobs import RetryPolicy
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime
from tests.support.outbox import build_runtime


class Greet(JobPayload):
    name: str
    times: int = 1


GREET = JobContract("test.greet", Greet, RetryPolicy(max_attempts=2))


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(database_url, FrozenClock(utcnow() + timedelta(minutes=1)))
    yield runtime
    await runtime.aclose()


def test_each_job_type_is_defined_once() -> None:
    names = [contract.name for contract in CONTRACTS]
    assert len(names) == len(set(names))
    assert "email.send" in names


async def test_a_payload_that_does_not_fit_is_refused_at_enqueue(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        unchecked = SendEmail.model_construct(template="welcome")  # no "to", no "context"
        with pytest.raises(ValidationError):
            await SEND_EMAIL.enqueue(session, unchecked, key="k")
        assert await session.scalar(select(OutboxJob.id)) is None


async def test_the_handler_receives_what_the_producer_enqueued(runtime: Runtime) -> None:
    seen: list[Greet] = []

    async def greet(ctx: JobContext) -> None:
        seen.append(GREET.read(ctx.payload))

    runtime.jobs.register(GREET, greet)
    async with runtime.session_factory() as session:
        assert await GREET.enqueue(session, Greet(name="Ada", times=2), key="greet:ada") is True
        assert await GREET.enqueue(session, Greet(name="Ada", times=2), key="greet:ada") is False
        await session.commit()
        job = await session.scalar(select(OutboxJob))
    assert job is not None and (job.type, job.max_attempts) == ("test.greet", 2)
    assert await OutboxWorker(runtime, listen=False).drain() == 1
    assert seen == [Greet(name="Ada", times=2)]


async def test_a_stored_payload_that_no_longer_fits_is_buried_at_once(runtime: Runtime) -> None:
    ran: list[str] = []

    async def greet(ctx: JobContext) -> None:
        ran.append(ctx.key)

    runtime.jobs.register(GREET, greet)
    async with runtime.session_factory() as session:
        await enqueue(session, GREET.name, {"name": "Ada", "colour": "red"}, key="greet:old")
        await session.commit()
    await OutboxWorker(runtime, listen=False).drain()
    async with runtime.session_factory() as session:
        job = await session.scalar(select(OutboxJob).where(OutboxJob.key == "greet:old"))
    assert job is not None and (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert "does not fit its contract" in (job.last_error or "")
    assert ran == []

"""Factories and a runtime wired with fulfilment jobs and a recording ``email.send``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.fulfilment.jobs import register_jobs
from billhook.fulfilment.registrars import SandboxRegistrar
from billhook.fulfilment.requests import EMAIL_SEND
from billhook.kit.clock import FrozenClock
from billhook.models import Booking, OutboxJob, User
from billhook.outbox import JobContext
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime
from tests.support.databases import make_settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Outbox:
    """A worker over a runtime whose ``email.send`` only records what it was asked to send."""

    runtime: Runtime
    emails: list[dict[str, Any]] = field(default_factory=list)

    async def record_email(self, ctx: JobContext) -> None:
        self.emails.append(dict(ctx.payload))

    async def drain(self) -> int:
        return await OutboxWorker(self.runtime).drain()


def build_outbox(database_url: str, **register_options: Any) -> Outbox:
    # ``enqueue`` stamps jobs with the real time; the worker's frozen clock starts past it.
    clock = FrozenClock(datetime.now(UTC) + timedelta(minutes=1))
    runtime = Runtime.build(make_settings(database_url), clock=clock)
    outbox = Outbox(runtime)
    runtime.jobs.register(EMAIL_SEND, outbox.record_email)
    register_options.setdefault("registrar", SandboxRegistrar(clock))
    register_jobs(runtime.jobs, **register_options)
    return outbox


async def add_user(session: AsyncSession, email: str, name: str | None = None) -> User:
    user = User(email=email, name=name)
    session.add(user)
    await session.flush()
    return user


async def add_booking(session: AsyncSession, client: User, coach: User) -> Booking:
    booking = Booking(client_id=client.id, coach_id=coach.id, start_at=NOW, duration_minutes=60,
                      amount=9000, currency="eur")  # fmt: skip
    session.add(booking)
    await session.flush()
    return booking


async def jobs(session: AsyncSession, job_type: str | None = None) -> Sequence[OutboxJob]:
    statement = select(OutboxJob).order_by(OutboxJob.key)
    if job_type:
        statement = statement.where(OutboxJob.type == job_type)
    return (await session.execute(statement)).scalars().all()

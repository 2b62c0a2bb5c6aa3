"""Claiming one customer's events together, and alone once an event has been tried before."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from billhook.inbox.claims import Claimed
from billhook.inbox.envelope import read_envelope
from billhook.inbox.handlers import HandlerContext
from billhook.inbox.store import Incoming, insert_events
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.kit.clock import utcnow
from billhook.models import InboxEvent
from billhook.providers.stripe import StripeProvider
from billhook.runtime import Runtime
from tests.support.inbox import event_payload


class RecordingWorker(InboxWorker):
    """The worker, recording the size of every group it applies."""

    def __init__(self, runtime: Runtime, options: WorkerOptions) -> None:
        super().__init__(runtime, options)
        self.groups: list[int] = []

    async def apply_group(self, group: list[Claimed]) -> list[str]:
        self.groups.append(len(group))
        return await super().apply_group(group)


async def applied(_ctx: HandlerContext) -> None:
    return None


async def stored(runtime: Runtime, count: int) -> list[dict[str, Any]]:
    start = int(time.time()) - 100
    obj = {"id": "pi_1", "object": "payment_intent", "customer": "cus_1"}
    payloads = [event_payload("payment_intent.created", obj=obj, created=start + n) for n in range(count)]
    async with runtime.session_factory() as session:
        await insert_events(
            session, [Incoming(read_envelope(p), p, "webhook", None, utcnow()) for p in payloads]
        )
        await session.commit()
    return payloads


def worker(runtime: Runtime) -> RecordingWorker:
    runtime.provider = StripeProvider("sk_test_unused", "http://127.0.0.1:9", max_network_retries=0)
    routes = {"payment_intent.created": applied}
    return RecordingWorker(runtime, WorkerOptions(concurrency=4, reconcile_interval=None, routes=routes))


async def test_one_customers_pending_events_are_one_group(runtime: Runtime) -> None:
    await stored(runtime, 5)
    recorder = worker(runtime)
    assert await recorder.drain() == 5
    assert recorder.groups == [5]


async def test_after_a_crash_each_event_is_applied_alone(runtime: Runtime) -> None:
    await stored(runtime, 3)
    async with runtime.session_factory() as session:  # a worker died holding the group
        expired = utcnow() - timedelta(seconds=1)
        await session.execute(
            update(InboxEvent).values(status="processing", locked_by="dead", locked_until=expired, attempts=1)
        )
        await session.commit()
    recorder = worker(runtime)
    assert await recorder.drain() == 3
    assert recorder.groups == [1, 1, 1]
    async with runtime.session_factory() as session:
        assert set(await session.scalars(select(InboxEvent.status))) == {"processed"}


class Deadlocked(Exception):
    sqlstate = "40P01"  # what asyncpg reports for PostgreSQL's deadlock_detected


async def test_a_group_that_lost_a_deadlock_is_retried_not_failed(runtime: Runtime) -> None:
    losses = [DBAPIError("UPDATE customers …", None, Deadlocked())]

    async def deadlocks_once(_ctx: HandlerContext) -> None:
        if losses:
            raise losses.pop()

    await stored(runtime, 2)
    recorder = worker(runtime)
    recorder.options.routes = {"payment_intent.created": deadlocks_once}
    assert await recorder.drain() == 2
    async with runtime.session_factory() as session:
        rows = list(await session.execute(select(InboxEvent.status, InboxEvent.attempts)))
    assert [tuple(row) for row in rows] == [("processed", 1), ("processed", 1)]

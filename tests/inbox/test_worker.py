"""The inbox worker: retries with backoff, dead letters, per-key order, leases, several workers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from billhook.inbox.envelope import read_envelope
from billhook.inbox.handlers import Handler, HandlerContext
from billhook.inbox.reconcile import reconcile
from billhook.inbox.store import Incoming, insert_events
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.kit.clock import utcnow
from billhook.models import InboxEvent
from billhook.outbox import RetryPolicy
from billhook.providers.base import EventPage
from billhook.providers.stripe import StripeProvider
from billhook.runtime import Runtime
from tests.support.inbox import event_payload


def options(routes: dict[str, Handler], **extra: Any) -> WorkerOptions:
    values: dict[str, Any] = {
        "concurrency": 4,
        "reconcile_interval": None,
        "policy": RetryPolicy(max_attempts=3, base_delay=timedelta(seconds=30), jitter=0.0),
        "routes": routes,
        **extra,
    }
    return WorkerOptions(**values)


def with_provider(runtime: Runtime) -> Runtime:
    runtime.provider = StripeProvider("sk_test_unused", "http://127.0.0.1:9", max_network_retries=0)
    return runtime


async def store(runtime: Runtime, *payloads: dict[str, Any]) -> None:
    async with runtime.session_factory() as session:
        items = [Incoming(read_envelope(p), p, "webhook", None, utcnow()) for p in payloads]
        await insert_events(session, items)
        await session.commit()


async def rows(runtime: Runtime) -> dict[str, InboxEvent]:
    async with runtime.session_factory() as session:
        return {row.event_id: row for row in await session.scalars(select(InboxEvent))}


async def make_due(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await session.execute(update(InboxEvent).values(next_attempt_at=utcnow()))
        await session.commit()


async def test_failures_back_off_then_go_dead_with_their_error(runtime: Runtime) -> None:
    async def broken(ctx: HandlerContext) -> None:
        raise RuntimeError("provider said no")

    worker = InboxWorker(with_provider(runtime), options({"customer.created": broken}))
    payload = event_payload()
    await store(runtime, payload)
    before = utcnow()
    assert await worker.drain() == 1
    row = (await rows(runtime))[payload["id"]]
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "RuntimeError: provider said no")
    assert timedelta(seconds=29) < row.next_attempt_at - before < timedelta(seconds=31)
    assert await worker.drain() == 0  # not due yet
    await make_due(runtime)
    await worker.drain()
    second = (await rows(runtime))[payload["id"]]
    assert second.next_attempt_at - utcnow() > timedelta(seconds=55)  # doubled
    await make_due(runtime)
    await worker.drain()
    dead = (await rows(runtime))[payload["id"]]
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.last_error == "RuntimeError: provider said no"
    await make_due(runtime)
    assert await worker.drain() == 0  # dead letters wait for a replay


async def test_unhandled_types_are_marked_processed(runtime: Runtime) -> None:
    worker = InboxWorker(with_provider(runtime), options({}))
    payload = event_payload("product.created", obj={"id": "prod_1", "object": "product"})
    await store(runtime, payload)
    await worker.drain()
    assert (await rows(runtime))[payload["id"]].status == "processed"


async def test_one_customer_in_order_different_customers_in_parallel(runtime: Runtime, backend: str) -> None:
    running: Counter[str] = Counter()
    peak = {"all": 0}
    order: list[str] = []

    async def record(ctx: HandlerContext) -> None:
        key = str(ctx.event.data_object["customer"])
        running[key] += 1
        assert running[key] == 1, "two events of one customer at once"
        peak["all"] = max(peak["all"], sum(running.values()))
        await asyncio.sleep(0.02)
        order.append(ctx.event.id)
        running[key] -= 1

    start = int(time.time()) - 100
    payloads = [
        event_payload(
            "payment_intent.created",
            obj={"id": f"pi_{n}", "object": "payment_intent", "customer": f"cus_{n % 3}"},
            created=start + (10 - n),  # stored newest first
        )
        for n in range(9)
    ]
    await store(runtime, *payloads)
    worker = InboxWorker(with_provider(runtime), options({"payment_intent.created": record}))
    assert await worker.drain() == 9
    for customer in range(3):
        mine = [p for p in payloads if p["data"]["object"]["customer"] == f"cus_{customer}"]
        applied = [eid for eid in order if eid in {p["id"] for p in mine}]
        assert applied == [p["id"] for p in sorted(mine, key=lambda p: p["created"])]
    assert peak["all"] == (3 if backend == "postgresql" else 1)


async def test_two_workers_apply_each_event_once(runtime: Runtime, settings: Any) -> None:
    applied: Counter[str] = Counter()

    async def count(ctx: HandlerContext) -> None:
        applied[ctx.event.id] += 1
        await asyncio.sleep(0.005)

    payloads = [
        event_payload(obj={"id": f"cus_{n}", "object": "customer"}, created=int(time.time()) - n)
        for n in range(40)
    ]
    await store(runtime, *payloads)
    other = with_provider(Runtime.build(settings))
    try:
        workers = [
            InboxWorker(with_provider(runtime), options({"customer.created": count})),
            InboxWorker(other, options({"customer.created": count})),
        ]
        await asyncio.gather(*(w.drain() for w in workers))
    finally:
        await other.aclose()
    assert applied == Counter({p["id"]: 1 for p in payloads})
    assert {row.status for row in (await rows(runtime)).values()} == {"processed"}


async def test_an_expired_lease_is_claimed_again(runtime: Runtime) -> None:
    applied: list[str] = []

    async def ok(ctx: HandlerContext) -> None:
        applied.append(ctx.event.id)

    payload = event_payload()
    await store(runtime, payload)
    async with runtime.session_factory() as session:
        await session.execute(
            update(InboxEvent).values(
                status="processing",
                locked_by="dead-worker",
                locked_until=utcnow() - timedelta(seconds=1),
                attempts=1,
            )
        )
        await session.commit()
    await InboxWorker(with_provider(runtime), options({"customer.created": ok})).drain()
    row = (await rows(runtime))[payload["id"]]
    assert (row.status, row.attempts, applied) == ("processed", 2, [payload["id"]])


async def test_a_running_worker_picks_up_new_events(runtime: Runtime) -> None:
    seen = asyncio.Event()

    async def ok(ctx: HandlerContext) -> None:
        seen.set()

    worker = InboxWorker(with_provider(runtime), options({"customer.created": ok}, poll_interval=0.05))
    await worker.start()
    try:
        await store(runtime, event_payload())
        worker.notify()
        await asyncio.wait_for(seen.wait(), 10)
    finally:
        await worker.aclose()


async def test_stopping_does_not_wait_on_a_reconcile_the_provider_never_answers(runtime: Runtime) -> None:
    """SIGTERM must stop the worker at once even while the provider hangs (seen in CI: a reconcile
    waiting on an unreachable API held a stopping ``billhook worker`` past 30 s)."""
    provider = with_provider(runtime).provider
    assert provider is not None
    asked = asyncio.Event()

    async def never_answers(**_: Any) -> Any:
        asked.set()
        await asyncio.Event().wait()

    provider.list_events = never_answers  # type: ignore[method-assign]
    worker = InboxWorker(runtime, options({}, poll_interval=0.01, reconcile_interval=600.0))
    await worker.start()
    await asyncio.wait_for(asked.wait(), 10)
    started = time.monotonic()
    await asyncio.wait_for(worker.aclose(), 10)
    assert time.monotonic() - started < 2


async def test_stopping_cuts_a_hung_apply_short_after_the_grace_and_hands_its_event_back(
    runtime: Runtime,
) -> None:
    entered = asyncio.Event()

    async def hangs(ctx: HandlerContext) -> None:
        entered.set()
        await asyncio.Event().wait()

    routes: dict[str, Handler] = {"customer.created": hangs}
    worker = InboxWorker(with_provider(runtime), options(routes, poll_interval=0.01, grace=0.2))
    await worker.start()
    await store(runtime, event_payload(event_id="evt_hung"))
    worker.notify()
    await asyncio.wait_for(entered.wait(), 10)
    started = time.monotonic()
    await asyncio.wait_for(worker.aclose(), 10)
    assert time.monotonic() - started < 2
    row = (await rows(runtime))["evt_hung"]
    # Still claimed by nobody live: due again at once, its attempt counted (a poison event runs out).
    assert (row.status, row.attempts) == ("processing", 1) and row.locked_until <= utcnow()

    applied: list[str] = []

    async def ok(ctx: HandlerContext) -> None:
        applied.append(ctx.event.id)

    again = InboxWorker(runtime, options({"customer.created": ok}))
    assert await again.drain() == 1 and applied == ["evt_hung"]
    assert (await rows(runtime))["evt_hung"].status == "processed"


async def test_the_running_worker_reconciles_periodically(runtime: Runtime) -> None:
    """With an unreachable provider the reconcile fails, is logged, and is tried again soon."""
    worker = InboxWorker(with_provider(runtime), options({}, poll_interval=0.01, reconcile_interval=600.0))
    await worker._maybe_reconcile()
    assert worker._last_reconcile is None and worker._next_reconcile is not None
    assert timedelta(seconds=25) < worker._next_reconcile - utcnow() <= timedelta(seconds=30)


async def test_a_stopped_reconcile_keeps_the_pages_it_stored_and_reads_no_more(runtime: Runtime) -> None:
    provider = with_provider(runtime).provider
    assert provider is not None
    stop, second_asked = asyncio.Event(), asyncio.Event()
    first = event_payload(event_id="evt_page_one")

    async def pages(*, created_gte: Any, starting_after: str | None) -> EventPage:
        if starting_after is None:
            return EventPage((provider.parse_event(first),), has_more=True)
        second_asked.set()
        await asyncio.Event().wait()  # the provider stops answering
        raise AssertionError("unreachable")

    provider.list_events = pages  # type: ignore[method-assign]
    running = asyncio.create_task(reconcile(runtime, timedelta(hours=1), stop=stop))
    await asyncio.wait_for(second_asked.wait(), 10)
    stop.set()
    report = await asyncio.wait_for(running, 2)
    assert (report.stopped, report.pages, report.stored) == (True, 1, 1)
    assert list(await rows(runtime)) == ["evt_page_one"]

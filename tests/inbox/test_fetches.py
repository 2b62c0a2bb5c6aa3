"""The worker fetches only what it needs: one read per object for one customer's pending events,
and the objects one event names read at the same time."""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import delete, select

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.inbox.worker import InboxWorker
from billhook.kit.clock import utcnow
from billhook.models import InboxEvent, Invoice, Subscription
from billhook.providers.base import PaymentProvider
from tests.support.inbox import InboxStack, event_payload
from tests.support.provider_calls import RecordingProvider


async def store(stack: InboxStack, payloads: list[dict[str, Any]]) -> None:
    async with stack.runtime.session_factory() as session:
        await insert_events(
            session, [Incoming(read_envelope(p), p, "webhook", None, utcnow()) for p in payloads]
        )
        await session.commit()


def recording(stack: InboxStack, delay: float = 0.0) -> RecordingProvider:
    recorder = RecordingProvider(stack.provider, delay)
    stack.runtime.provider = cast(PaymentProvider, recorder)
    return recorder


async def test_a_burst_of_50_events_of_one_subscription_makes_at_most_2_provider_calls(
    stack: InboxStack,
) -> None:
    sub = await stack.shop.subscribe("burst@example.com")
    obj = {"id": sub.id, "object": "subscription", "customer": sub.customer}
    start = int(time.time()) - 60
    types = ("customer.subscription.updated", "customer.subscription.created")
    burst = [event_payload(types[n % 2], obj=obj, created=start + n // 5) for n in range(50)]
    await store(stack, burst)
    recorder = recording(stack)

    assert await stack.worker.drain() == 50

    assert recorder.total <= 2
    assert recorder.calls["get_subscription"] == 1
    async with stack.runtime.session_factory() as session:
        statuses = set(await session.scalars(select(InboxEvent.status)))
        mirrored = await session.scalar(select(Subscription.status).where(Subscription.stripe_id == sub.id))
    assert statuses == {"processed"}
    assert mirrored == "active"


async def test_one_customers_events_share_their_reads(stack: InboxStack) -> None:
    sub = await stack.shop.subscribe("share@example.com")
    truth = await stack.provider.get_subscription(sub.id)
    assert truth.latest_invoice_id
    invoice = await stack.provider.get_invoice(truth.latest_invoice_id)
    start = int(time.time()) - 60
    invoice_obj = {"id": invoice.id, "object": "invoice", "customer": sub.customer, "subscription": sub.id}
    sub_obj = {"id": sub.id, "object": "subscription", "customer": sub.customer}
    events = [
        event_payload("customer.subscription.created", obj=sub_obj, created=start),
        event_payload("invoice.created", obj=invoice_obj, created=start + 1),
        event_payload("invoice.finalized", obj=invoice_obj, created=start + 2),
        event_payload("invoice.paid", obj=invoice_obj, created=start + 3),
        event_payload("customer.subscription.updated", obj=sub_obj, created=start + 4),
    ]
    await store(stack, events)
    recorder = recording(stack)

    assert await stack.worker.drain() == 5

    assert recorder.calls["get_subscription"] == 1
    assert recorder.calls["get_invoice"] == 1
    assert all(count == 1 for count in recorder.calls.values()), recorder.calls


async def test_the_objects_an_event_names_are_fetched_concurrently(stack: InboxStack) -> None:
    sub = await stack.shop.subscribe("gather@example.com")
    truth = await stack.provider.get_subscription(sub.id)
    assert truth.latest_invoice_id
    invoice = await stack.provider.get_invoice(truth.latest_invoice_id)
    assert invoice.payment_intent_id
    obj = {
        "id": invoice.id,
        "object": "invoice",
        "customer": sub.customer,
        "subscription": sub.id,
        "payment_intent": invoice.payment_intent_id,
    }
    await store(stack, [event_payload("invoice.paid", obj=obj)])
    recorder = recording(stack, delay=0.05)

    assert await stack.worker.drain() == 1

    assert recorder.peak >= 3  # the invoice, its subscription and its payment at once


async def test_an_event_older_than_the_last_applied_fetch_needs_no_fetch(stack: InboxStack) -> None:
    sub = await stack.shop.subscribe("late@example.com")
    obj = {"id": sub.id, "object": "subscription", "customer": sub.customer}
    now = int(time.time())
    await store(stack, [event_payload("customer.subscription.updated", obj=obj, created=now - 30)])
    recorder = recording(stack)
    assert await stack.worker.drain() == 1
    assert recorder.calls["get_subscription"] == 1

    late = event_payload("customer.subscription.created", obj=obj, created=now - 60)  # a late delivery
    fresh = event_payload("customer.subscription.updated", obj=obj, created=now + 5)
    await store(stack, [late])
    assert await stack.worker.drain() == 1
    assert recorder.calls["get_subscription"] == 1  # already reflected: no fetch
    await store(stack, [fresh])
    assert await stack.worker.drain() == 1
    assert recorder.calls["get_subscription"] == 2  # newer than the fetch: fetched
    async with stack.runtime.session_factory() as session:
        statuses = set(await session.scalars(select(InboxEvent.status)))
    assert statuses == {"processed"}


async def test_a_forgotten_application_is_not_trusted(stack: InboxStack) -> None:
    sub = await stack.shop.subscribe("wiped@example.com")
    obj = {"id": sub.id, "object": "subscription", "customer": sub.customer}
    now = int(time.time())
    await store(stack, [event_payload("customer.subscription.updated", obj=obj, created=now - 30)])
    recorder = recording(stack)
    await stack.worker.drain()
    async with stack.runtime.session_factory() as session:  # as after restoring an older backup
        await session.execute(delete(InboxEvent))
        await session.execute(delete(Subscription))
        await session.commit()

    await store(stack, [event_payload("customer.subscription.created", obj=obj, created=now - 60)])
    assert await stack.worker.drain() == 1
    assert recorder.calls["get_subscription"] == 2
    async with stack.runtime.session_factory() as session:
        assert await session.scalar(select(Subscription.status).where(Subscription.stripe_id == sub.id))


class CountingWorker(InboxWorker):
    """The stack's worker, counting the handler runs."""

    def __init__(self, stack: InboxStack) -> None:
        super().__init__(stack.runtime, stack.worker.options)
        self.handled: list[str] = []

    async def _handle(self, session: Any, fetches: Any, claimed: Any, event: Any) -> None:
        self.handled.append(event.type)
        await super()._handle(session, fetches, claimed, event)


async def test_one_objects_events_in_a_group_run_its_handler_once(stack: InboxStack) -> None:
    sub = await stack.shop.subscribe("once@example.com")
    truth = await stack.provider.get_subscription(sub.id)
    assert truth.latest_invoice_id
    invoice_obj = {"id": truth.latest_invoice_id, "object": "invoice", "customer": sub.customer}
    start = int(time.time()) - 60
    types = ("invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded")
    await store(stack, [event_payload(t, obj=invoice_obj, created=start + n) for n, t in enumerate(types)])
    worker = CountingWorker(stack)

    assert await worker.drain() == 4

    assert worker.handled == ["invoice.created"]  # the others would apply the same fetched invoice
    async with stack.runtime.session_factory() as session:
        statuses = set(await session.scalars(select(InboxEvent.status)))
        mirrored = select(Invoice.status).where(Invoice.stripe_id == truth.latest_invoice_id)
        paid = await session.scalar(mirrored)
    assert statuses == {"processed"} and paid == "paid"

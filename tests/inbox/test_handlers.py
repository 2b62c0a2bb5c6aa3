"""Handlers against the in-process fake provider: events stored, the worker applies them, no server.

Each test puts the provider's current objects into ``FakeProvider``, stores events whose
snapshots may be stale, drains the worker and checks the mirror, the jobs and the calls made.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.kit.clock import utcnow
from billhook.models import Customer, InboxEvent, OutboxJob, Subscription
from billhook.outbox import RetryPolicy
from billhook.providers.base import ProviderCustomer, ProviderSubscription, ProviderSubscriptionItem
from billhook.runtime import Runtime
from tests.support.fake_provider import Call, FakeProvider
from tests.support.inbox import event_payload

START = datetime(2026, 3, 1, tzinfo=UTC)
ADA = ProviderCustomer(id="cus_ada", email="ada@example.com", name="Ada", created=START)


def subscription(status: str, **changes: Any) -> ProviderSubscription:
    item = ProviderSubscriptionItem(
        id="si_ada",
        price_id="price_pro",
        product_id="prod_pro",
        unit_amount=1500,
        currency="usd",
        interval="month",
        current_period_start=START,
        current_period_end=START + timedelta(days=30),
    )
    values: dict[str, Any] = {"id": "sub_ada", "customer_id": ADA.id, "status": status, "items": (item,)}
    return ProviderSubscription(**{**values, **changes})


def event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return event_payload(event_type, obj=obj)


async def apply(runtime: Runtime, provider: FakeProvider, *events: dict[str, Any]) -> None:
    runtime.provider = provider
    async with runtime.session_factory() as session:
        items = [Incoming(read_envelope(e), e, "webhook", None, utcnow()) for e in events]
        await insert_events(session, items)
        await session.commit()
    options = WorkerOptions(concurrency=1, reconcile_interval=None, policy=RetryPolicy(max_attempts=3))
    worker = InboxWorker(runtime, options)
    try:
        await worker.drain()
    finally:
        await worker.aclose()


async def rows(runtime: Runtime, model: Any) -> list[Any]:
    async with runtime.session_factory() as session:
        return list(await session.scalars(select(model)))


async def test_a_subscription_event_applies_the_providers_object_not_its_snapshot(runtime: Runtime) -> None:
    provider = FakeProvider(ADA, subscription("active"))
    stale = {"id": "sub_ada", "object": "subscription", "customer": ADA.id, "status": "trialing"}
    await apply(runtime, provider, event("customer.subscription.updated", stale))

    [row] = await rows(runtime, Subscription)
    assert (row.status, row.price_stripe_id, row.current_period_end) == (
        "active",
        "price_pro",
        START + timedelta(days=30),
    )
    assert provider.fetched("get_subscription") == [Call("get_subscription", "sub_ada")]
    requested = [job.type for job in await rows(runtime, OutboxJob)]
    assert requested.count("entitlements.sync") == 1


async def test_a_canceled_subscription_emails_its_customer_once_for_several_events(runtime: Runtime) -> None:
    canceled = subscription("canceled", ended_at=START + timedelta(days=3))
    provider = FakeProvider(ADA, canceled)
    snapshot = {"id": "sub_ada", "object": "subscription", "customer": ADA.id}
    updated = event("customer.subscription.updated", snapshot)
    deleted = event("customer.subscription.deleted", snapshot)
    await apply(runtime, provider, updated, deleted)
    await apply(runtime, provider, event("customer.subscription.deleted", snapshot))  # a redelivery

    emails = [job.key for job in await rows(runtime, OutboxJob) if job.type == "email.send"]
    assert emails == ["email:subscription_canceled:ada@example.com:sub_ada"]
    assert {e.status for e in await rows(runtime, InboxEvent)} == {"processed"}


async def test_a_customer_the_provider_no_longer_has_is_mirrored_as_deleted(runtime: Runtime) -> None:
    provider = FakeProvider()  # the provider answers NotFound for a deleted customer
    await apply(runtime, provider, event("customer.deleted", {"id": "cus_gone", "object": "customer"}))

    [row] = await rows(runtime, Customer)
    assert (row.stripe_id, row.deleted) == ("cus_gone", True)


async def test_a_missing_customer_on_an_update_fails_the_event_for_a_retry(runtime: Runtime) -> None:
    provider = FakeProvider()
    await apply(runtime, provider, event("customer.updated", {"id": "cus_later", "object": "customer"}))

    [stored] = await rows(runtime, InboxEvent)
    assert stored.status == "failed" and "NotFound" in (stored.last_error or "")
    assert await rows(runtime, Customer) == []


async def test_a_source_event_syncs_its_customer_whether_sent_as_an_id_or_expanded(runtime: Runtime) -> None:
    provider = FakeProvider(ADA)
    expanded = {"id": "card_1", "object": "card", "customer": {"id": ADA.id, "object": "customer"}}
    await apply(runtime, provider, event("customer.source.updated", expanded))

    [row] = await rows(runtime, Customer)
    assert (row.stripe_id, row.email) == (ADA.id, "ada@example.com")
    assert Call("get_customer", ADA.id) in provider.calls
    assert Call("get_payment_method", "card_1") in provider.calls  # gone: nothing more to sync

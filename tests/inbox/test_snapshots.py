"""An event's snapshot stands in for a fetch only when it is provably the newest state known of
its object; an older event delivered later never takes the mirror back."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select

from billhook.customers.service import customer_by_stripe_id
from billhook.inbox.worker import InboxWorker
from billhook.kit.clock import utcnow
from billhook.models import Customer, InboxEvent, ObjectVersion, PaymentMethod, Subscription
from billhook.models.object_versions import VERSION_FLOOR, record_versions
from billhook.providers.base import PaymentProvider, ProviderCustomer
from tests.inbox.test_fetches import recording, store
from tests.support.inbox import InboxStack, event_payload
from tests.support.provider_calls import RecordingProvider


async def subscription_states(stack: InboxStack) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A subscription at the provider, its whole object before and after cancel-at-period-end."""
    sub = await stack.shop.subscribe("snap@example.com")
    before = (await stack.provider.get_subscription(sub.id)).raw
    await stack.shop.v1.subscriptions.update_async(sub.id, params={"cancel_at_period_end": True})
    after = (await stack.provider.get_subscription(sub.id)).raw
    assert before["discounts"] == [] and after["cancel_at_period_end"] is True
    return sub, before, after


async def mirrored_cancel(stack: InboxStack, sub_id: str) -> bool | None:
    async with stack.runtime.session_factory() as session:
        return await session.scalar(
            select(Subscription.cancel_at_period_end).where(Subscription.stripe_id == sub_id)
        )


async def all_processed(stack: InboxStack) -> bool:
    async with stack.runtime.session_factory() as session:
        return set(await session.scalars(select(InboxEvent.status))) == {"processed"}


async def test_the_newest_snapshot_is_applied_without_a_fetch(stack: InboxStack) -> None:
    sub, _before, after = await subscription_states(stack)
    now = int(time.time())
    await store(stack, [event_payload("customer.subscription.updated", obj=after, created=now - 2)])
    recorder = recording(stack)

    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 0
    assert await mirrored_cancel(stack, sub.id) is True
    async with stack.runtime.session_factory() as session:
        version = await session.get(ObjectVersion, ("subscription", sub.id))
    assert version is not None and int(version.applied_at.timestamp()) == now - 2  # the event's time


async def test_an_older_event_delivered_later_is_fetched_not_applied(stack: InboxStack) -> None:
    sub, before, after = await subscription_states(stack)
    now = int(time.time())
    await store(stack, [event_payload("customer.subscription.updated", obj=after, created=now - 10)])
    recorder = recording(stack)
    assert await stack.worker.drain() == 1
    assert recorder.calls["get_subscription"] == 0

    # The event of the state before (older) arrives late: its snapshot would undo the cancel.
    await store(stack, [event_payload("customer.subscription.created", obj=before, created=now - 30)])
    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 1  # not provably newer: fetched
    assert await mirrored_cancel(stack, sub.id) is True
    assert await all_processed(stack)


async def test_in_one_group_the_newest_snapshot_wins_whatever_the_delivery_order(
    stack: InboxStack,
) -> None:
    sub, before, after = await subscription_states(stack)
    now = int(time.time())
    newer = event_payload("customer.subscription.updated", obj=after, created=now - 10)
    older = event_payload("customer.subscription.created", obj=before, created=now - 20)
    await store(stack, [newer])
    await store(stack, [older])  # received after the newer one
    recorder = recording(stack)

    assert await stack.worker.drain() == 2

    assert recorder.calls["get_subscription"] == 0
    assert await mirrored_cancel(stack, sub.id) is True


async def test_events_of_one_second_prove_no_order_and_are_fetched(stack: InboxStack) -> None:
    sub, before, after = await subscription_states(stack)
    now = int(time.time())
    await store(
        stack,
        [
            event_payload("customer.subscription.created", obj=before, created=now - 10),
            event_payload("customer.subscription.updated", obj=after, created=now - 10),
        ],
    )
    recorder = recording(stack)

    assert await stack.worker.drain() == 2

    assert recorder.calls["get_subscription"] == 1
    assert await mirrored_cancel(stack, sub.id) is True


async def test_a_snapshot_within_the_margin_of_the_last_fetch_is_not_trusted(stack: InboxStack) -> None:
    sub, before, _after = await subscription_states(stack)
    obj = {"id": sub.id, "object": "subscription", "customer": sub.customer}
    await store(
        stack, [event_payload("customer.subscription.updated", obj=obj, created=int(time.time()) - 60)]
    )
    recorder = recording(stack)
    assert await stack.worker.drain() == 1  # a partial object: fetched, and its version recorded
    assert recorder.calls["get_subscription"] == 1

    # Newer than the event fetched for, but not than the fetch itself (plus the margin).
    stale = event_payload("customer.subscription.updated", obj=before, created=int(time.time()) - 1)
    await store(stack, [stale])
    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 2
    assert await mirrored_cancel(stack, sub.id) is True


async def test_a_newer_stored_event_of_the_object_outside_the_group_forbids_the_snapshot(
    stack: InboxStack,
) -> None:
    sub, before, after = await subscription_states(stack)
    now = int(time.time())
    older = event_payload("customer.subscription.created", obj=before, created=now - 20)
    newer = event_payload("customer.subscription.updated", obj=after, created=now - 10)
    await store(stack, [older, newer])
    async with stack.runtime.session_factory() as session:  # the newer one failed once: not due yet
        row = await session.scalar(select(InboxEvent).where(InboxEvent.event_id == newer["id"]))
        assert row is not None
        row.status, row.attempts = "failed", 1
        row.next_attempt_at = row.next_attempt_at + timedelta(hours=1)
        await session.commit()
    recorder = recording(stack)

    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 1  # the older snapshot is not the newest known
    assert await mirrored_cancel(stack, sub.id) is True


async def test_a_snapshot_from_a_clock_ahead_of_ours_is_not_trusted(stack: InboxStack) -> None:
    sub, _before, after = await subscription_states(stack)
    ahead = int(time.time()) + 3600  # a test clock advanced an hour
    await store(stack, [event_payload("customer.subscription.updated", obj=after, created=ahead)])
    recorder = recording(stack)

    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 1
    assert await mirrored_cancel(stack, sub.id) is True


async def test_a_snapshot_at_another_api_version_is_not_trusted(stack: InboxStack) -> None:
    sub, _before, after = await subscription_states(stack)
    event = event_payload(
        "customer.subscription.updated", obj=after, created=int(time.time()) - 2, api_version="2020-08-27"
    )
    await store(stack, [event])
    recorder = recording(stack)

    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 1
    assert await mirrored_cancel(stack, sub.id) is True


async def test_no_event_older_than_the_floor_is_applied_from_its_snapshot(stack: InboxStack) -> None:
    """A database upgraded to versions (migration 0006) mirrored objects without one."""
    sub, _before, after = await subscription_states(stack)
    async with stack.runtime.session_factory() as session:
        await record_versions(session, {VERSION_FLOOR: utcnow()})
        await session.commit()
    await store(
        stack, [event_payload("customer.subscription.updated", obj=after, created=int(time.time()) - 10)]
    )
    recorder = recording(stack)

    assert await stack.worker.drain() == 1

    assert recorder.calls["get_subscription"] == 1
    assert await mirrored_cancel(stack, sub.id) is True


async def test_a_customers_signup_events_apply_customer_and_card_from_their_snapshots(
    stack: InboxStack,
) -> None:
    customer = await stack.shop.customer("signup@example.com")
    card = await stack.shop.card(customer.id)
    customer_raw = (await stack.provider.get_customer(customer.id)).raw
    card_raw = (await stack.provider.get_payment_method(card.id)).raw
    now = int(time.time())
    await store(
        stack,
        [
            event_payload("customer.created", obj=customer_raw, created=now - 3),
            event_payload("payment_method.attached", obj=card_raw, created=now - 2),
        ],
    )
    recorder = recording(stack)

    assert await stack.worker.drain() == 2

    assert recorder.total == 0, recorder.calls
    async with stack.runtime.session_factory() as session:
        row = await customer_by_stripe_id(session, customer.id)
        method = await session.scalar(select(PaymentMethod).where(PaymentMethod.stripe_id == card.id))
    assert row is not None and row.email == "signup@example.com"
    assert method is not None and method.customer_id == row.id and method.last4 == card_raw["card"]["last4"]


class RacingProvider(RecordingProvider):
    """Records, while the group is being applied, a newer version of ``racing`` from a
    transaction of its own that commits first (as the API's resume would)."""

    def __init__(self, stack: InboxStack, racing: tuple[str, str]) -> None:
        super().__init__(stack.provider)
        self.stack = stack
        self.racing = racing
        self.raced = False

    async def get_customer(self, customer_id: str) -> ProviderCustomer:
        self.calls["get_customer"] += 1
        if not self.raced:
            self.raced = True
            async with self.stack.runtime.session_factory() as session:
                await record_versions(session, {self.racing: utcnow() + timedelta(minutes=1)})
                await session.commit()
        return await self.stack.provider.get_customer(customer_id)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_snapshot_that_loses_a_race_with_a_newer_state_is_applied_again_by_fetch(
    stack: InboxStack,
) -> None:
    """PostgreSQL only: on SQLite the racing transaction waits for the group's (one writer)."""
    customer = await stack.shop.customer("race@example.com")
    card = await stack.shop.card(customer.id)
    card_raw = (await stack.provider.get_payment_method(card.id)).raw
    await store(stack, [event_payload("payment_method.attached", obj=card_raw, created=int(time.time()) - 2)])
    racing = RacingProvider(stack, ("payment_method", card.id))
    stack.runtime.provider = cast(PaymentProvider, racing)
    worker = InboxWorker(stack.runtime, stack.worker.options)

    assert await worker.drain() == 1

    assert racing.raced
    assert racing.calls["get_payment_method"] == 1  # the second try fetched instead
    assert await all_processed(stack)
    async with stack.runtime.session_factory() as session:
        assert await session.scalar(select(Customer.stripe_id)) == customer.id

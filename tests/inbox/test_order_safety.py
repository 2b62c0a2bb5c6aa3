"""Order safety: whatever order a subscription's events arrive in, the mirror ends equal to the
provider's current objects (handlers re-fetch; hypothesis draws the permutations)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.kit.clock import utcnow
from billhook.models import (
    AuditEntry,
    CheckoutSession,
    Customer,
    Dispute,
    InboxEvent,
    Invoice,
    OutboxJob,
    Payment,
    PaymentMethod,
    Refund,
    Subscription,
)
from tests.support.inbox import InboxStack

WIPE_ORDER = (
    AuditEntry,
    OutboxJob,
    InboxEvent,
    Refund,
    Dispute,
    Payment,
    Invoice,
    CheckoutSession,
    Subscription,
    PaymentMethod,
    Customer,
)


async def lifecycle(stack: InboxStack) -> tuple[str, list[dict[str, Any]]]:
    """Trial → trial ends and the first invoice is paid → cancel at period end → resumed → canceled
    at period end again; returns the subscription id and every event, oldest first."""
    v1 = stack.shop.v1
    sub = await stack.shop.subscribe("perm@example.com", trial_period_days=7)
    await stack.server.advance(8 * 86_400)
    await v1.subscriptions.update_async(sub.id, params={"cancel_at_period_end": True})
    await v1.subscriptions.update_async(
        sub.id, params={"cancel_at_period_end": False, "metadata": {"k": "v"}}
    )
    await v1.subscriptions.update_async(sub.id, params={"cancel_at_period_end": True})
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await stack.provider.list_events(starting_after=cursor)
        events.extend(event.raw for event in page.events)
        if not page.has_more:
            break
        cursor = page.events[-1].id
    return sub.id, list(reversed(events))


async def wipe(stack: InboxStack) -> None:
    async with stack.runtime.session_factory() as session:
        for model in WIPE_ORDER:
            await session.execute(delete(model))
        await session.commit()


async def deliver_in_order(stack: InboxStack, events: list[dict[str, Any]]) -> None:
    """Each event is stored and applied before the next arrives: arrival order = application order."""
    for raw in events:
        async with stack.runtime.session_factory() as session:
            await insert_events(session, [Incoming(read_envelope(raw), raw, "webhook", None, utcnow())])
            await session.commit()
        await stack.worker.drain()


async def assert_mirror_matches_provider(stack: InboxStack, sub_id: str) -> None:
    truth = await stack.provider.get_subscription(sub_id)
    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(Subscription).where(Subscription.stripe_id == sub_id))
        invoices = list(await session.scalars(select(Invoice)))
        statuses = set(await session.scalars(select(InboxEvent.status)))
    assert statuses == {"processed"}
    assert row is not None
    mirrored = (
        row.status,
        row.cancel_at_period_end,
        row.cancel_at,
        row.current_period_start,
        row.current_period_end,
        row.trial_start,
        row.trial_end,
        row.price_stripe_id,
        row.latest_invoice_stripe_id,
    )
    expected = (
        truth.status,
        truth.cancel_at_period_end,
        truth.cancel_at,
        truth.current_period_start,
        truth.current_period_end,
        truth.trial_start,
        truth.trial_end,
        truth.items[0].price_id,
        truth.latest_invoice_id,
    )
    assert mirrored == expected
    assert invoices
    for invoice in invoices:
        current = await stack.provider.get_invoice(invoice.stripe_id)
        assert (invoice.status, invoice.amount_paid, invoice.amount_due) == (
            current.status,
            current.amount_paid,
            current.amount_due,
        )


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_arrival_order_ends_in_the_providers_state(stack: InboxStack, data: st.DataObject) -> None:
    if not hasattr(stack, "scenario"):  # first example: build the scenario, check provider order too
        stack.scenario = await lifecycle(stack)  # type: ignore[attr-defined]
        sub_id, events = stack.scenario  # type: ignore[attr-defined]
        assert {"customer.subscription.created", "customer.subscription.updated", "invoice.paid"} <= {
            e["type"] for e in events
        }
        await deliver_in_order(stack, events)
        await assert_mirror_matches_provider(stack, sub_id)
    sub_id, events = stack.scenario  # type: ignore[attr-defined]
    order = data.draw(st.permutations(events))
    await wipe(stack)
    await deliver_in_order(stack, order)
    await assert_mirror_matches_provider(stack, sub_id)

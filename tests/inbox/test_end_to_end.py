"""Sandbox → signed webhooks → inbox → worker → mirror, audit and outbox; replay changes nothing."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from billhook.inbox.replay import replay
from billhook.models import (
    AuditEntry,
    CheckoutSession,
    Customer,
    InboxEvent,
    Invoice,
    OutboxJob,
    Payment,
    PaymentMethod,
    Subscription,
)
from tests.support.inbox import InboxStack, all_event_ids, settled


async def counts(stack: InboxStack) -> dict[str, int]:
    result = {}
    async with stack.runtime.session_factory() as session:
        for model in (
            Customer,
            Subscription,
            Invoice,
            Payment,
            PaymentMethod,
            AuditEntry,
            OutboxJob,
            InboxEvent,
        ):
            result[model.__tablename__] = await session.scalar(select(func.count()).select_from(model)) or 0
    return result


async def jobs(stack: InboxStack) -> list[tuple[str, str, dict[str, Any]]]:
    async with stack.runtime.session_factory() as session:
        rows = await session.scalars(select(OutboxJob).order_by(OutboxJob.key))
        return [(job.type, job.key, job.payload) for job in rows]


async def test_a_subscription_arrives_by_webhook_and_is_mirrored(stack: InboxStack) -> None:
    await stack.server.connect_webhooks()
    sub = await stack.shop.subscribe("ada@example.com")
    await settled(stack.server)
    expected = await all_event_ids(stack.provider)
    async with stack.runtime.session_factory() as session:
        stored = set(await session.scalars(select(InboxEvent.event_id)))
    assert stored == set(expected)

    assert await stack.worker.drain() == len(expected)
    truth = await stack.provider.get_subscription(sub.id)
    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(Subscription).where(Subscription.stripe_id == sub.id))
        customer = await session.scalar(select(Customer).where(Customer.stripe_id == truth.customer_id))
        invoice = await session.scalar(select(Invoice).where(Invoice.stripe_id == truth.latest_invoice_id))
        payment = await session.scalar(select(Payment))
        statuses = set(await session.scalars(select(InboxEvent.status)))
    assert statuses == {"processed"}
    assert row is not None and customer is not None and invoice is not None and payment is not None
    assert (row.status, row.current_period_end, row.price_stripe_id) == (
        "active",
        truth.current_period_end,
        truth.items[0].price_id,
    )
    assert row.customer_id == customer.id and customer.email == "ada@example.com"
    assert (invoice.status, invoice.amount_paid, invoice.subscription_id) == ("paid", 1500, row.id)
    assert (payment.status, payment.amount, payment.invoice_id) == ("SUCCEEDED", 1500, invoice.id)
    types = [job[0] for job in await jobs(stack)]
    assert types.count("order.record_paid") == 1
    assert types.count("entitlements.sync") == 1


async def test_emails_are_requested_once_and_replaying_every_event_changes_nothing(stack: InboxStack) -> None:
    await stack.server.connect_webhooks()
    sub = await stack.shop.subscribe("cy@example.com")
    await stack.shop.v1.subscriptions.cancel_async(sub.id)
    intent = await stack.shop.pay(4200)
    refund = await stack.shop.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 200})
    await settled(stack.server)
    await stack.worker.drain()
    emails = {key for kind, key, _ in await jobs(stack) if kind == "email.send"}
    assert emails == {
        f"email:subscription_canceled:cy@example.com:{sub.id}",
        f"email:refund_issued:ada@example.com:{refund.id}",
    }
    async with stack.runtime.session_factory() as session:
        payment = await session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent.id))
    assert payment is not None and (payment.status, payment.amount_refunded) == ("PARTIALLY_REFUNDED", 200)

    before, before_jobs = await counts(stack), await jobs(stack)
    for event_id in await all_event_ids(stack.provider):
        assert await replay(stack.worker, event_id) in {"processed", "unhandled"}
    assert await counts(stack) == before
    assert await jobs(stack) == before_jobs


async def checkout(stack: InboxStack, mode: str) -> str:
    """Open a hosted checkout and pay it with 4242 by posting the page's form; returns the session id."""
    price = await stack.shop.price(3300, interval="month" if mode == "subscription" else None)
    session = await stack.shop.v1.checkout.sessions.create_async(
        params={
            "mode": mode,
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "http://127.0.0.1/ok?cs={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://127.0.0.1/cancel",
            "customer_email": "buyer@example.com",
        }
    )
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{stack.server.api_base}/checkout/{session.id}")
        token = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert token is not None, page.text[:500]
        form = {"form_token": token.group(1), "email": "buyer@example.com", "card_number": "4242424242424242",
                "exp": "12/34", "cvc": "123"}  # fmt: skip
        paid = await client.post(f"{stack.server.api_base}/checkout/{session.id}/pay", data=form)
        assert paid.status_code in {200, 303}, paid.text[:500]
    return str(session.id)


async def test_a_one_time_checkout_records_one_order(stack: InboxStack) -> None:
    await stack.server.connect_webhooks()
    session_id = await checkout(stack, "payment")
    await settled(stack.server)
    await stack.worker.drain()
    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == session_id))
        payment = await session.scalar(select(Payment))
    assert row is not None and (row.status, row.payment_status, row.amount_total) == (
        "complete",
        "paid",
        3300,
    )
    assert row.completed_at is not None and row.price_stripe_id
    assert payment is not None and (payment.status, payment.amount) == ("SUCCEEDED", 3300)
    orders = [(key, payload) for kind, key, payload in await jobs(stack) if kind == "order.record_paid"]
    assert [key for key, _ in orders] == [f"order:{session_id}"]
    assert orders[0][1]["line_items"][0]["quantity"] == 1


async def test_a_subscription_checkout_syncs_entitlements_once(stack: InboxStack) -> None:
    await stack.server.connect_webhooks()
    session_id = await checkout(stack, "subscription")
    await settled(stack.server)
    await stack.worker.drain()
    kinds = Counter(kind for kind, _, _ in await jobs(stack))
    # The checkout was by an email with no account: one provisioning job creates it. The new
    # payment makes the payment statistics stale (no user yet: no subscription view to forget).
    expected = {
        "entitlements.sync": 1,
        "order.record_paid": 1,
        "accounts.provision_customer": 1,
        "payments.invalidate_stats": 1,
    }
    assert kinds == Counter(expected)
    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == session_id))
        sub = await session.scalar(select(Subscription))
    assert row is not None and row.status == "complete"
    assert sub is not None and sub.status == "active"

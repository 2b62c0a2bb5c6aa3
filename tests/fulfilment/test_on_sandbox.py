"""Issue 5 end to end on the sandbox: money arrives as webhooks, orders are recorded once, and
the dispatcher's jobs fulfil them (registrar records, plan terms, renewal notices)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from billhook.kit.clock import utcnow
from billhook.models import Booking, Order, OutboxJob, Price, User
from billhook.models.fulfilment import DomainRegistration, PlanTerm
from billhook.providers.actions import CheckoutRequest
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(database_url, tmp_path) as running:
        yield running


async def _price_id(stack: Stack, product_id: str) -> str:
    async with stack.db() as session:
        price = await session.scalar(
            select(Price).where(Price.product_id == product_id, Price.active.is_(True))
        )
    assert price is not None and price.stripe_id, f"{product_id} was not synced to the sandbox"
    return price.stripe_id


async def _count(stack: Stack, model: Any, *conditions: Any) -> int:
    async with stack.db() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)


async def test_buying_a_domain_registers_it_once(stack: Stack) -> None:
    price = await _price_id(stack, "domain_registration")
    created = await stack.actions.create_checkout_session(
        CheckoutRequest(
            mode="subscription",
            price_id=price,
            success_url=f"{stack.root}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{stack.root}/payment/cancel",
            idempotency_key="test-domain-checkout",
            customer_email="registrant@example.com",
            metadata={"domain": "billhook-example.org", "years": "1"},
        )
    )
    paid = await stack.pay(created.url, email="registrant@example.com")
    assert paid.status_code == 303, paid.text

    async def registered() -> DomainRegistration | None:
        async with stack.db() as session:
            return await session.scalar(
                select(DomainRegistration).where(DomainRegistration.domain == "billhook-example.org")
            )

    registration = await stack.eventually(registered, timeout=30)
    assert registration.expires_at > utcnow() + timedelta(days=300)
    assert registration.contacts["email"] == "registrant@example.com"
    assert await _count(stack, Order, Order.type == "new") == 1
    assert await _count(stack, OutboxJob, OutboxJob.type == "fulfilment.domain_register") == 1


async def test_a_renewal_under_the_test_clock_extends_the_plan_and_queues_the_notice(stack: Stack) -> None:
    who = await stack.register("renewing@example.com")
    await stack.subscribe(who)
    await stack.role_becomes(who, "premium")

    async def term() -> PlanTerm | None:
        async with stack.db() as session:
            return await session.scalar(select(PlanTerm))

    first = await stack.eventually(term, timeout=30)
    assert first.renewals == 0 and first.expires_at is not None

    await stack.advance(days=32)

    async def renewed() -> PlanTerm | None:
        async with stack.db() as session:
            found = await session.scalar(select(PlanTerm).execution_options(populate_existing=True))
        return found if found is not None and found.renewals == 1 else None

    after = await stack.eventually(renewed, timeout=30)
    assert after.expires_at is not None and first.expires_at is not None
    assert after.expires_at > first.expires_at
    assert await _count(stack, Order, Order.type == "subscription_renewal") == 1

    async def notice_queued() -> int:
        return await _count(
            stack,
            OutboxJob,
            OutboxJob.type == "email.send",
            OutboxJob.key.like("email:subscription_renewed:%"),
        )

    assert await stack.eventually(notice_queued, timeout=15) == 1


async def _booking(stack: Stack) -> tuple[str, str, str]:
    """A client, a coach and a PENDING booking between them: (booking id, client, coach emails)."""
    async with stack.db() as session:
        client = User(email="client@example.com")
        coach = User(email="coach@example.com", role="coach", name="Ana Coach")
        session.add_all([client, coach])
        await session.flush()
        booking = Booking(
            client_id=client.id,
            coach_id=coach.id,
            start_at=utcnow() + timedelta(days=3),
            duration_minutes=60,
            amount=5000,
            currency="eur",
            notes="Bring your CV",
        )
        session.add(booking)
        await session.commit()
        return booking.id, client.email, coach.email


async def _booking_status(stack: Stack, booking_id: str) -> str:
    async with stack.db() as session:
        booking = await session.get_one(Booking, booking_id, populate_existing=True)
        return booking.status


async def test_a_paid_booking_is_confirmed_with_one_email_each_and_a_refund_cancels_it(stack: Stack) -> None:
    booking_id, client_email, coach_email = await _booking(stack)
    created = await stack.actions.create_checkout_session(
        CheckoutRequest(
            mode="payment",
            price_id=await _price_id(stack, "coaching_session"),
            success_url=f"{stack.root}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{stack.root}/payment/cancel",
            idempotency_key=f"booking:{booking_id}",
            customer_email=client_email,
            metadata={"booking_id": booking_id},
        )
    )
    paid = await stack.pay(created.url, email=client_email)
    assert paid.status_code == 303, paid.text

    async def confirmed() -> bool:
        return await _booking_status(stack, booking_id) == "CONFIRMED"

    await stack.eventually(confirmed, timeout=30)
    for recipient in (client_email, coach_email):
        sent = OutboxJob.key.like(f"email:booking_%:{recipient}:%")
        assert await _count(stack, OutboxJob, OutboxJob.type == "email.send", sent) == 1, recipient

    intent_id = (await stack.provider.get_checkout_session(created.id)).payment_intent_id
    assert intent_id is not None
    await stack.actions.create_refund(
        payment_intent_id=intent_id, amount=None, reason="requested_by_customer", idempotency_key="refund-1"
    )

    async def cancelled() -> bool:
        return await _booking_status(stack, booking_id) == "CANCELLED"

    await stack.eventually(cancelled, timeout=30)

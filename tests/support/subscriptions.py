"""Acting on a subscription as a customer of the running stack (tests/support/stack.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billhook.models import Customer as CustomerRow
from billhook.models import Subscription
from tests.support.stack import Customer, Stack


async def subscribed(
    stack: Stack, email: str = "ada@example.com", product_id: str = "premium_sub"
) -> Customer:
    """A user whose checkout completed and whose success page was visited (mirror in sync)."""
    who = await stack.register(email)
    success = await stack.subscribe(who, product_id)
    async with stack.browser() as browser:
        assert (await browser.get(success)).status_code == 200
    return who


async def provider_customer_id(stack: Stack, who: Customer) -> str:
    """The provider's id of ``who``'s customer, from the mirror."""
    async with stack.db() as session:
        found = select(CustomerRow.stripe_id).where(CustomerRow.email == who.email)
        customer_id = await session.scalar(found)
    assert customer_id is not None
    return customer_id


async def overview(stack: Stack, who: Customer) -> dict[str, Any]:
    response = await stack.http.get("/api/subscription", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def post(stack: Stack, who: Customer, path: str, **body: Any) -> Any:
    return await stack.http.post(path, json=body, headers=who.headers)


async def subscription_status(stack: Stack, who: Customer) -> str | None:
    me = await stack.me(who)
    async with stack.db() as session:
        return await session.scalar(
            select(Subscription.status)
            .where(Subscription.user_id == me["id"])
            .order_by(Subscription.created_at.desc())
            .limit(1)
        )


async def status_becomes(stack: Stack, who: Customer, status: str) -> None:
    async def check() -> bool:
        return await subscription_status(stack, who) == status

    await stack.eventually(check)


async def save_new_card(stack: Stack, subscription_id: str) -> None:
    """What the billing portal's "update card" does: a new default card for the subscription."""
    v1 = stack.provider.client.v1
    subscription = await stack.provider.get_subscription(subscription_id)
    card = await v1.payment_methods.attach_async("pm_card_visa", {"customer": subscription.customer_id})
    await v1.subscriptions.update_async(subscription_id, {"default_payment_method": card.id})

"""``customer.updated`` carries a new name to the user (issue #18, 8)."""

from __future__ import annotations

from sqlalchemy import select

from billhook.models import User
from tests.support.stack import Stack
from tests.support.subscriptions import provider_customer_id, subscribed


async def test_a_name_changed_at_the_provider_becomes_the_users_name(stack: Stack) -> None:
    ada = await subscribed(stack, "ada@example.com")
    await stack.settled()
    customer_id = await provider_customer_id(stack, ada)

    await stack.provider.client.v1.customers.update_async(customer_id, {"name": "Ada Lovelace"})

    async def named() -> str | None:
        async with stack.db() as session:
            return await session.scalar(select(User.name).where(User.email == ada.email))

    assert await stack.eventually(named) == "Ada Lovelace"

"""A checkout for a user whose provider customer is gone says so (issue #18 follow-up).

The mirror still names the customer (deleted at the provider, the ``customer.deleted`` event not
applied yet), so the provider refuses the session with ``resource_missing`` on ``customer``. The
answer named the *price* ("price … was not found"), sending whoever read it to the catalog; it
names the missing customer now, with 409 (the account's billing state, not the request, is
wrong). Through the routes and the sandbox, products and bookings alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from billhook.models import Customer as CustomerRow
from billhook.models import User
from tests.support.stack import Customer, Stack


async def mirrored_customer(stack: Stack, email: str) -> str:
    async def check() -> str | None:
        async with stack.db() as session:
            user_id = await session.scalar(select(User.id).where(User.email == email))
            return await session.scalar(select(CustomerRow.stripe_id).where(CustomerRow.user_id == user_id))

    return await stack.eventually(check)


async def lose_the_customer(stack: Stack, who: Customer) -> str:
    """A first purchase makes the customer; it is then deleted at the provider unseen by Billhook."""
    first = await stack.checkout(who, product_id="starter")
    assert first.status_code == 201, first.text
    customer_id = await mirrored_customer(stack, who.email)
    await stack.hold_webhooks()
    await stack.provider.client.v1.customers.delete_async(customer_id)
    return customer_id


def assert_names_the_customer(response: httpx.Response, customer_id: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "conflict", error
    assert customer_id in error["message"] and "customer" in error["message"], error
    assert "price" not in error["message"], error
    return error


async def test_a_checkout_whose_customer_is_gone_names_the_customer(stack: Stack) -> None:
    who = await stack.register("gone-customer@example.com")
    customer_id = await lose_the_customer(stack, who)

    answer = await stack.checkout(who, product_id="pro")

    assert_names_the_customer(answer, customer_id)


async def test_a_booking_checkout_whose_customer_is_gone_names_the_customer(stack: Stack) -> None:
    coach = await stack.register("gone-customer-coach@example.com")
    async with stack.db() as session:
        await session.execute(update(User).where(User.email == coach.email).values(role="coach"))
        coach_id = await session.scalar(select(User.id).where(User.email == coach.email))
        await session.commit()
    who = await stack.register("gone-customer-client@example.com")
    customer_id = await lose_the_customer(stack, who)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    booked = await stack.http.post(
        "/api/bookings",
        json={"coach_id": coach_id, "start_at": start, "duration_minutes": 60},
        headers=who.headers,
    )
    assert booked.status_code == 201, booked.text

    answer = await stack.http.post(
        f"/api/bookings/{booked.json()['id']}/checkout", json={}, headers=who.headers
    )

    assert_names_the_customer(answer, customer_id)

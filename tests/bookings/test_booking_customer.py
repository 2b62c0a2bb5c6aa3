"""A checkout opens for the user's live provider customer: one deleted at the provider (the mirror
marks it deleted) is never picked again, for bookings and products alike (one lookup,
billhook/customers/provider_customer.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from billhook.models import Customer, User
from tests.support.payments import People, book, register
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _customers_of(stack: Stack, user_id: str) -> list[Customer]:
    async with stack.db() as session:
        rows = await session.scalars(
            select(Customer)
            .where(Customer.user_id == user_id)
            .order_by(Customer.created_at)
            .execution_options(populate_existing=True)
        )
        return list(rows)


async def _delete_customer(stack: Stack, user_id: str) -> str:
    [old] = await _customers_of(stack, user_id)
    await stack.provider.client.v1.customers.delete_async(old.stripe_id)

    async def marked_deleted() -> bool:
        return all(row.deleted for row in await _customers_of(stack, user_id))

    await stack.eventually(marked_deleted)
    return old.stripe_id


async def _user_id(stack: Stack, email: str) -> str:
    async with stack.db() as session:
        found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


async def test_a_deleted_customer_is_not_used_for_a_booking_checkout(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    client = await register(stack, "deleted-customer-client@example.com")
    client_id = await _user_id(stack, client.email)
    mine = replace(people, client=client, ids={**people.ids, "client": client_id})

    first = await book(stack, mine)
    path = f"/api/bookings/{first['id']}/checkout"
    started = await stack.http.post(path, json={}, headers=client.headers)
    assert started.status_code == 201, started.text
    old = await _delete_customer(stack, client_id)

    second = await book(stack, mine)
    again = await stack.http.post(f"/api/bookings/{second['id']}/checkout", json={}, headers=client.headers)
    assert again.status_code == 201, again.text
    session = await stack.provider.get_checkout_session(again.json()["session_id"])
    assert session.customer_id is not None and session.customer_id != old
    live = [row for row in await _customers_of(stack, client_id) if not row.deleted]
    assert [row.stripe_id for row in live] == [session.customer_id]


async def test_a_deleted_customer_is_not_used_for_a_product_checkout(shared_stack: Stack) -> None:
    stack = shared_stack
    buyer = await register(stack, "deleted-customer-buyer@example.com")
    buyer_id = await _user_id(stack, buyer.email)
    first = await stack.checkout(buyer, product_id="pro")
    assert first.status_code == 201, first.text
    old = await _delete_customer(stack, buyer_id)

    again = await stack.checkout(buyer, product_id="starter")
    assert again.status_code == 201, again.text
    session = await stack.provider.get_checkout_session(again.json()["session_id"])
    assert session.customer_id is not None and session.customer_id != old

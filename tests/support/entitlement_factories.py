"""Rows for entitlement tests: users, customers, subscriptions and paid orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog import apply_catalog, load_catalog
from billhook.kit.ids import new_id
from billhook.models import Customer, Order, OrderItem, Subscription, User
from tests.support.app_harness import EXAMPLE_CATALOG


async def seed_catalog(session: AsyncSession) -> None:
    await apply_catalog(session, load_catalog(EXAMPLE_CATALOG))


async def user(session: AsyncSession, email: str = "ada@example.com", role: str = "free") -> User:
    row = User(email=email, role=role)
    session.add(row)
    await session.flush()
    return row


async def customer(session: AsyncSession, owner: User | None) -> Customer:
    row = Customer(
        stripe_id=new_id("cus_test"),
        user_id=owner.id if owner else None,
        email=owner.email if owner else None,
    )
    session.add(row)
    await session.flush()
    return row


async def subscription(
    session: AsyncSession,
    *,
    status: str,
    product_id: str | None = "premium_sub",
    customer: Customer | None = None,
    owner: User | None = None,
    period_start: datetime | None = None,
    price_stripe_id: str | None = None,
) -> Subscription:
    row = Subscription(
        stripe_id=new_id("sub_test"),
        status=status,
        product_id=product_id,
        price_stripe_id=price_stripe_id,
        customer_id=customer.id if customer else None,
        user_id=owner.id if owner else None,
        current_period_start=period_start,
    )
    session.add(row)
    await session.flush()
    return row


async def paid_order(session: AsyncSession, owner: User, product_id: str, status: str = "paid") -> Order:
    order = Order(user_id=owner.id, status=status, currency="usd", amount_total=4900)
    session.add(order)
    await session.flush()
    session.add(
        OrderItem(order_id=order.id, product_id=product_id, kind="plan", currency="usd", unit_amount=4900)
    )
    await session.flush()
    return order

"""Queries of the checkout domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import CheckoutSession, Customer, Price, Product, Subscription

# Statuses in which a subscription still exists for the customer (it may be cancelled, resumed
# or paid); a second checkout for the same plan would charge twice.
LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete")


async def product(session: AsyncSession, product_id: str) -> Product | None:
    return await session.get(Product, product_id)


async def active_prices(session: AsyncSession, product_id: str) -> list[Price]:
    rows = await session.scalars(
        select(Price).where(Price.product_id == product_id, Price.active.is_(True)).order_by(Price.created_at)
    )
    return list(rows)


async def price_by_reference(session: AsyncSession, reference: str) -> Price | None:
    """A price by our id, the provider's id or its lookup key."""
    found = await session.get(Price, reference)
    if found is not None:
        return found
    return await session.scalar(
        select(Price).where((Price.stripe_id == reference) | (Price.lookup_key == reference))
    )


async def live_subscriptions(session: AsyncSession, user_id: str) -> list[Subscription]:
    rows = await session.scalars(
        select(Subscription)
        .where(Subscription.user_id == user_id, Subscription.status.in_(LIVE_STATUSES))
        .order_by(Subscription.created_at.desc())
    )
    return list(rows)


async def had_subscription_to(session: AsyncSession, user_id: str, product_id: str) -> bool:
    found = await session.scalar(
        select(Subscription.id).where(Subscription.user_id == user_id, Subscription.product_id == product_id)
    )
    return found is not None


async def open_session_for(
    session: AsyncSession, user_id: str, price_stripe_id: str, quantity: int, now: datetime
) -> CheckoutSession | None:
    return await session.scalar(
        select(CheckoutSession)
        .where(
            CheckoutSession.user_id == user_id,
            CheckoutSession.price_stripe_id == price_stripe_id,
            CheckoutSession.quantity == quantity,
            CheckoutSession.status == "open",
            CheckoutSession.expires_at > now,
        )
        .order_by(CheckoutSession.created_at.desc())
        .limit(1)
    )


async def checkout_by_stripe_id(session: AsyncSession, stripe_id: str) -> CheckoutSession | None:
    return await session.scalar(select(CheckoutSession).where(CheckoutSession.stripe_id == stripe_id))


async def customer_of_user(session: AsyncSession, user_id: str) -> Customer | None:
    return await session.scalar(
        select(Customer)
        .where(Customer.user_id == user_id, Customer.deleted.is_(False))
        .order_by(Customer.created_at)
        .limit(1)
    )

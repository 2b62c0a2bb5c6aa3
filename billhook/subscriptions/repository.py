"""Queries on ``subscriptions`` (the mirror of the provider's subscriptions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import Subscription

# Statuses in which a subscription still exists for the customer (it may be cancelled, resumed
# or paid); a second checkout for the same plan would charge twice.
LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete")


async def live_subscriptions(session: AsyncSession, user_id: str) -> list[Subscription]:
    """The user's subscriptions in a :data:`LIVE_STATUSES` status, newest first."""
    rows = await session.scalars(
        select(Subscription)
        .where(Subscription.user_id == user_id, Subscription.status.in_(LIVE_STATUSES))
        .order_by(Subscription.created_at.desc())
    )
    return list(rows)


async def had_subscription_to(session: AsyncSession, user_id: str, product_id: str) -> bool:
    """Whether the user ever subscribed to the product (in any status)."""
    found = await session.scalar(
        select(Subscription.id).where(Subscription.user_id == user_id, Subscription.product_id == product_id)
    )
    return found is not None

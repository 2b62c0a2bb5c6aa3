"""Queries on ``subscriptions`` (the mirror of the provider's subscriptions)."""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog.kinds import ItemKind
from billhook.models import Product, Subscription

# Statuses in which a subscription still exists for the customer (it may be cancelled, resumed
# or paid); a second checkout for the same plan would charge twice.
LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete")


async def live_subscriptions(session: AsyncSession, user_id: str) -> list[Subscription]:
    """The user's subscriptions in a :data:`LIVE_STATUSES` status, in :func:`live_with_products`' order."""
    return [row for row, _product in await live_with_products(session, user_id)]


async def live_with_products(
    session: AsyncSession, user_id: str
) -> list[tuple[Subscription, Product | None]]:
    """The user's live subscriptions and their products: the plan first, then domain subscriptions.

    The plan is any subscription whose product is not a domain (checkout allows one; domains are
    bought beside it), so "the subscription" is the same whichever was bought first. Newest first
    within each group, the id breaking ties, so the order never depends on the query plan.
    """
    domain_last = case((Product.fulfilment == ItemKind.DOMAIN.value, 1), else_=0)
    rows = await session.execute(
        select(Subscription, Product)
        .outerjoin(Product, Product.id == Subscription.product_id)
        .where(Subscription.user_id == user_id, Subscription.status.in_(LIVE_STATUSES))
        .order_by(domain_last, Subscription.created_at.desc(), Subscription.id.desc())
    )
    return [(row, product) for row, product in rows.all()]


async def had_subscription_to(session: AsyncSession, user_id: str, product_id: str) -> bool:
    """Whether the user ever subscribed to the product (in any status)."""
    found = await session.scalar(
        select(Subscription.id).where(Subscription.user_id == user_id, Subscription.product_id == product_id)
    )
    return found is not None

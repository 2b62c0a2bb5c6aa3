"""Queries on ``customers`` (the mirror's provider customers)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import Customer


async def customer_of_user(session: AsyncSession, user_id: str) -> Customer | None:
    """The user's first provider customer that is not deleted."""
    return await session.scalar(
        select(Customer)
        .where(Customer.user_id == user_id, Customer.deleted.is_(False))
        .order_by(Customer.created_at)
        .limit(1)
    )


async def deleted_customer_count(session: AsyncSession, user_id: str) -> int:
    """How many of the user's provider customers were deleted at the provider."""
    found = await session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(Customer.user_id == user_id, Customer.deleted.is_(True))
    )
    return int(found or 0)

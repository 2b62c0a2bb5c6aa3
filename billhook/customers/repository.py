"""Queries on ``customers`` (the mirror's provider customers)."""

from __future__ import annotations

from sqlalchemy import select
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

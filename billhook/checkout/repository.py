"""Queries on ``checkout_sessions``. Products and prices: ``billhook.catalog.repository``;
customers: ``billhook.customers.repository``; subscriptions: ``billhook.subscriptions.repository``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import CheckoutSession


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

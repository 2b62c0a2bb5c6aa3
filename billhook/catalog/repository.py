"""Queries on ``products`` and ``prices``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import Price, Product


async def all_products(session: AsyncSession) -> Sequence[Product]:
    return (await session.scalars(select(Product).order_by(Product.id))).all()


async def all_prices(session: AsyncSession) -> Sequence[Price]:
    return (await session.scalars(select(Price).order_by(Price.product_id, Price.currency))).all()


async def active_products(session: AsyncSession) -> Sequence[Product]:
    return (await session.scalars(select(Product).where(Product.active.is_(True)))).all()


async def active_prices(session: AsyncSession, product_ids: Sequence[str]) -> Sequence[Price]:
    if not product_ids:
        return []
    statement = (
        select(Price)
        .where(Price.active.is_(True), Price.product_id.in_(product_ids))
        .order_by(Price.product_id, Price.currency)
    )
    return (await session.scalars(statement)).all()


async def price_by_stripe_id(session: AsyncSession, stripe_id: str) -> Price | None:
    return await session.scalar(select(Price).where(Price.stripe_id == stripe_id))

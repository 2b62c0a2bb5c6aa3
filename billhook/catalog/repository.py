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


async def product(session: AsyncSession, product_id: str) -> Product | None:
    return await session.get(Product, product_id)


async def prices_of(session: AsyncSession, product_id: str) -> list[Price]:
    """The product's active prices, oldest first."""
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

"""apply_catalog: upsert products and prices, deactivate instead of deleting, idempotent."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billhook.catalog import CatalogChanges, active_catalog, apply_catalog, load_catalog, parse_catalog
from billhook.catalog.service import record_provider_price
from billhook.db import create_engine, create_session_factory
from billhook.models import Price, Product
from tests.support.app_harness import EXAMPLE_CATALOG

GOLD = """
[[products]]
id = "gold"
name = "Gold"
type = "subscription"
interval = "month"
trial_days = 14
prices = { usd = 1000, eur = 900 }
grants = { role = "gold", entitlements = ["vault"] }

[[products]]
id = "book"
name = "Book"
type = "one_time"
prices = { usd = 2500 }
"""


async def apply(
    factory: async_sessionmaker[AsyncSession], text: str, overrides: dict[str, str] | None = None
) -> CatalogChanges:
    async with factory() as session:
        changes = await apply_catalog(session, parse_catalog(text), price_overrides=overrides)
        await session.commit()
        return changes


async def prices(factory: async_sessionmaker[AsyncSession]) -> list[Price]:
    async with factory() as session:
        return list((await session.scalars(select(Price).order_by(Price.created_at, Price.lookup_key))).all())


async def test_applying_creates_products_and_prices(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    changes = await apply(session_factory, GOLD)
    assert changes.created == [
        "product gold",
        "product book",
        "price billhook:gold:usd:v1",
        "price billhook:gold:eur:v1",
        "price billhook:book:usd:v1",
    ]
    async with session_factory() as session:
        gold = await session.get(Product, "gold")
        assert gold is not None
        assert gold.grants == {"role": "gold", "entitlements": ["vault"], "rank": 1}
        assert gold.type == "subscription"
    rows = {p.lookup_key: p for p in await prices(session_factory)}
    usd = rows["billhook:gold:usd:v1"]
    assert (usd.unit_amount, usd.currency, usd.interval, usd.interval_count, usd.trial_days) == (
        1000, "usd", "month", 1, 14,
    )  # fmt: skip


async def test_applying_twice_changes_nothing(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await apply(session_factory, GOLD)
    before = [(p.id, p.lookup_key, p.active) for p in await prices(session_factory)]
    again = await apply(session_factory, GOLD)
    assert not again.changed
    assert [(p.id, p.lookup_key, p.active) for p in await prices(session_factory)] == before


async def test_the_example_catalog_applies_idempotently(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    catalog = load_catalog(EXAMPLE_CATALOG)
    for expected_change in (True, False):
        async with session_factory() as session:
            assert (await apply_catalog(session, catalog)).changed is expected_change
            await session.commit()


async def test_a_removed_product_is_deactivated_not_deleted(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD)
    only_gold = GOLD[: GOLD.index('[[products]]\nid = "book"')]
    changes = await apply(session_factory, only_gold)
    assert changes.deactivated == ["product book", "price billhook:book:usd:v1"]
    async with session_factory() as session:
        book = await session.get(Product, "book")
        assert book is not None
        assert not book.active
        listed = [p.id for p in await active_catalog(session)]
    assert listed == ["gold"]
    back = await apply(session_factory, GOLD)
    assert "product book (active)" in back.updated


async def test_a_removed_currency_deactivates_only_that_price(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD)
    changes = await apply(session_factory, GOLD.replace("{ usd = 1000, eur = 900 }", "{ usd = 1000 }"))
    assert changes.deactivated == ["price billhook:gold:eur:v1"]


async def test_new_terms_retire_the_old_price_row_and_add_a_new_one(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD)
    async with session_factory() as session:
        old = await session.scalar(select(Price).where(Price.lookup_key == "billhook:gold:usd:v1"))
        assert old is not None
        old.stripe_id = "price_old_usd"
        await session.commit()
    changes = await apply(session_factory, GOLD.replace("usd = 1000", "usd = 1200"))
    assert changes.deactivated == ["price billhook:gold:usd:v1 (old terms)"]
    assert changes.created == ["price billhook:gold:usd:v1"]
    async with session_factory() as session:
        retired = await session.get(Price, old.id)
        assert retired is not None
        assert (retired.active, retired.lookup_key, retired.stripe_id, retired.unit_amount) == (
            False, None, "price_old_usd", 1000,
        )  # fmt: skip
        current = await session.scalar(select(Price).where(Price.lookup_key == "billhook:gold:usd:v1"))
        assert current is not None
        assert (current.unit_amount, current.active, current.stripe_id) == (1200, True, None)


async def test_a_price_override_pins_the_first_currency(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD, overrides={"gold": "price_from_env"})
    rows = {p.lookup_key: p for p in await prices(session_factory)}
    assert rows["billhook:gold:usd:v1"].stripe_id == "price_from_env"
    assert rows["billhook:gold:eur:v1"].stripe_id is None
    assert not (await apply(session_factory, GOLD, overrides={"gold": "price_from_env"})).changed


async def test_an_inactive_product_in_the_file_is_stored_inactive(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD.replace('name = "Book"', 'name = "Book"\nactive = false'))
    async with session_factory() as session:
        listed = [p.id for p in await active_catalog(session)]
    assert listed == ["gold"]


async def test_recording_a_provider_price_id_moves_it_to_the_keyed_row(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, GOLD, overrides={"gold": "price_shared"})
    async with session_factory() as session:
        assert await record_provider_price(session, "billhook:gold:eur:v1", "price_shared")
        assert not await record_provider_price(session, "billhook:gold:eur:v1", "price_shared")
        assert not await record_provider_price(session, "billhook:unknown:usd:v1", "price_x")
        await session.commit()
    rows = {p.lookup_key: p.stripe_id for p in await prices(session_factory)}
    assert rows["billhook:gold:eur:v1"] == "price_shared"
    assert rows["billhook:gold:usd:v1"] is None  # the unique provider id lives on one row only


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_processes_applying_the_catalog_at_once_store_it_once(database_url: str) -> None:
    """Replicas or ``uvicorn --workers`` starting together against one database: none fails."""
    engines = [create_engine(database_url) for _ in range(4)]

    async def start(engine: AsyncEngine) -> None:
        async with create_session_factory(engine)() as session:
            await apply_catalog(session, parse_catalog(GOLD))
            await session.commit()

    try:
        await asyncio.gather(*(start(engine) for engine in engines))
        stored = await prices(create_session_factory(engines[0]))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sorted((price.product_id, price.currency) for price in stored) == [
        ("book", "usd"), ("gold", "eur"), ("gold", "usd"),
    ]  # fmt: skip

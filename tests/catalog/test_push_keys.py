"""``products sync`` against the served sandbox: idempotency keys carry every parameter and the run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billhook.catalog import parse_catalog
from billhook.catalog.push import idempotency_key, sync_products
from tests.support.stack import Stack, running_stack

LOOKUP = "billhook:starter:usd:v1"
EUR = "billhook:starter:eur:v1"


def _catalog(prices: str) -> str:
    return f"""
[[products]]
id = "starter"
name = "Starter"
type = "one_time"
prices = {{ {prices} }}
grants = {{ role = "starter" }}
fulfilment = "plan"
"""


@pytest.fixture
async def stack(database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(database_url, tmp_path) as running:
        yield running


async def _sync(stack: Stack, prices: str) -> None:
    async with stack.db() as session:
        await sync_products(session, stack.actions, parse_catalog(_catalog(prices)))
        await session.commit()


async def _active(stack: Stack, lookup_key: str) -> list[int]:
    found = await stack.provider.client.v1.prices.list_async({"lookup_keys": [lookup_key], "active": True})
    return [price.unit_amount for price in found.data]


def test_a_key_changes_with_every_parameter_and_with_the_run() -> None:
    base = idempotency_key(
        "create_price", "run1", unit_amount=4900, currency="usd", transfer_lookup_key=False
    )
    assert base == idempotency_key(
        "create_price", "run1", currency="usd", unit_amount=4900, transfer_lookup_key=False
    )
    assert base != idempotency_key(
        "create_price", "run1", unit_amount=4900, currency="usd", transfer_lookup_key=True
    )
    assert base != idempotency_key(
        "create_price", "run2", unit_amount=4900, currency="usd", transfer_lookup_key=False
    )
    assert base != idempotency_key(
        "set_price_active", "run1", unit_amount=4900, currency="usd", transfer_lookup_key=False
    )


async def test_a_price_changed_and_changed_back_syncs_every_time(stack: Stack) -> None:
    for amount in (5900, 4900, 5900, 4900):
        await _sync(stack, f"usd = {amount}, eur = 4500")
        assert await _active(stack, LOOKUP) == [amount]


async def test_a_currency_dropped_re_added_and_dropped_ends_inactive(stack: Stack) -> None:
    await _sync(stack, "usd = 4900")
    assert await _active(stack, EUR) == []
    await _sync(stack, "usd = 4900, eur = 4500")
    assert await _active(stack, EUR) == [4500]
    await _sync(stack, "usd = 4900")
    assert await _active(stack, EUR) == []  # was still active: the second deactivation was a replay

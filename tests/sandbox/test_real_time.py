"""Time passes in the sandbox by itself, as at Stripe: what falls due acts without ``advance``.

An open Checkout Session expires once its ``expires_at`` has passed in real time (and says so
with ``checkout.session.expired``), without anyone reading it or moving the clock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from billhook.providers.sandbox import scheduler
from billhook.providers.sandbox.config import SandboxConfig
from billhook.providers.sandbox.sandbox import Sandbox
from billhook.providers.sandbox.store import Store
from tests.support.sandbox import TEST_KEY, Harness
from tests.support.sandbox_factories import make_checkout, make_price
from tests.support.stopping import HeldRound


async def _overdue(sandbox: Sandbox, session_id: str) -> None:
    """As if the session's expires_at had passed in real time (it cannot be set in the past)."""
    async with sandbox.store.transaction() as tx:
        doc = await tx.get(session_id)
        assert doc is not None
        doc["expires_at"] = tx.now() - 1
        await tx.put(doc)


async def _status(sandbox: Sandbox, session_id: str) -> str:
    """Read from the store: reading through the API would expire the session itself."""
    async with sandbox.store.transaction() as tx:
        doc = await tx.get(session_id)
        assert doc is not None
        return str(doc["status"])


async def test_settling_expires_an_overdue_session_without_moving_the_clock(sandbox: Harness) -> None:
    session = await make_checkout(sandbox, await make_price(sandbox))
    await sandbox.in_server(lambda: _overdue(sandbox.sandbox, session.id))
    offset = sandbox.sandbox.store.clock_offset

    acted = await sandbox.in_server(lambda: scheduler.settle(sandbox.sandbox.store))

    assert acted == 1
    assert await sandbox.in_server(lambda: _status(sandbox.sandbox, session.id)) == "expired"
    assert "checkout.session.expired" in await sandbox.event_types()
    assert sandbox.sandbox.store.clock_offset == offset
    assert await sandbox.in_server(lambda: scheduler.settle(sandbox.sandbox.store)) == 0  # once


async def test_settling_leaves_what_is_not_due_yet(sandbox: Harness) -> None:
    session = await make_checkout(sandbox, await make_price(sandbox))

    assert await sandbox.in_server(lambda: scheduler.settle(sandbox.sandbox.store)) == 0
    assert await sandbox.in_server(lambda: _status(sandbox.sandbox, session.id)) == "open"


async def test_a_running_sandbox_settles_by_itself(tmp_path: Path) -> None:
    config = SandboxConfig(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}", settle_seconds=0.05)
    sandbox = Sandbox(config)
    await sandbox.start()
    transport = httpx.ASGITransport(app=sandbox.app)
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as api:
            price = await api.post(
                "/v1/prices", data={"currency": "usd", "unit_amount": "500", "product_data[name]": "Pass"}
            )
            assert price.status_code == 200, price.text
            session = await api.post(
                "/v1/checkout/sessions",
                data={
                    "mode": "payment",
                    "success_url": "https://example.com/ok",
                    "line_items[0][price]": price.json()["id"],
                    "line_items[0][quantity]": "1",
                },
            )
            assert session.status_code == 200, session.text
        session_id = session.json()["id"]
        await _overdue(sandbox, session_id)

        for _ in range(200):
            if await _status(sandbox, session_id) == "expired":
                break
            await asyncio.sleep(0.05)
        assert await _status(sandbox, session_id) == "expired"
    finally:
        await sandbox.aclose()


async def test_settling_leaves_a_test_clocks_customers_to_their_clock(sandbox: Harness) -> None:
    """Their objects are due by the clock's frozen time, here sixty days ago: only the clock moves them."""
    now = (await sandbox.api("GET", "/v1/test_helpers/sandbox/clock")).json()["now"]
    frozen = now - 60 * 86_400
    clock = await sandbox.client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": frozen})
    customer = await sandbox.client.v1.customers.create_async(params={"test_clock": clock.id})
    price = await make_price(sandbox)
    subscription = await sandbox.client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
        }
    )
    assert subscription.status == "incomplete"  # expires 23 hours after the clock's frozen time

    acted = await sandbox.in_server(lambda: scheduler.settle(sandbox.sandbox.store))

    assert acted == 0
    assert await sandbox.in_server(lambda: _status(sandbox.sandbox, subscription.id)) == "incomplete"


async def test_stopping_waits_for_a_settle_round_instead_of_cutting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round cut by cancellation may skip its rollback and keep SQLite's write lock."""
    held = HeldRound()

    async def slow_round(store: Store) -> int:
        await held.hold()
        return 0

    monkeypatch.setattr(scheduler, "settle", slow_round)
    config = SandboxConfig(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}", settle_seconds=0.05)
    sandbox = Sandbox(config)
    await sandbox.start()
    await held.assert_stop_waits(sandbox.aclose())


async def test_stopping_between_settle_rounds_is_immediate(tmp_path: Path) -> None:
    config = SandboxConfig(database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}", settle_seconds=3600)
    sandbox = Sandbox(config)
    await sandbox.start()
    await asyncio.wait_for(sandbox.aclose(), 2)

"""State lives in the sandbox's own database: it survives a restart, and reset clears it."""

from __future__ import annotations

from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import create_async_engine

from billhook.providers.sandbox import SandboxConfig
from billhook.providers.sandbox.store import Store, events
from tests.support.sandbox import Harness, start_server
from tests.support.sandbox_factories import make_price, subscribe


async def test_objects_and_clock_survive_a_restart(empty_database_url: str) -> None:
    """On SQLite and PostgreSQL (``empty_database_url`` is parametrised over both backends)."""
    database_url = empty_database_url
    first = Harness(start_server(database_url))
    try:
        price = await make_price(first, lookup_key="kept")
        sub = await subscribe(first, price)
        clock = await first.advance(days=3)
    finally:
        await first.aclose()
        first.server.stop()

    again = Harness(start_server(database_url))
    try:
        kept = await again.client.v1.subscriptions.retrieve_async(sub.id)
        assert kept.status == "active"
        prices = await again.client.v1.prices.list_async(params={"lookup_keys": ["kept"]})
        assert [p.id for p in prices.data] == [price.id]
        now = (await again.api("GET", "/v1/test_helpers/sandbox/clock")).json()
        assert now["offset"] == clock["offset"] and now["now"] >= clock["now"]
    finally:
        await again.aclose()
        again.server.stop()


async def test_reset_forgets_everything(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    await subscribe(sandbox, price)
    await sandbox.advance(days=1)
    await sandbox.in_server(sandbox.sandbox.reset)
    assert (await sandbox.client.v1.prices.list_async()).data == []
    assert (await sandbox.client.v1.events.list_async()).data == []
    assert (await sandbox.api("GET", "/v1/test_helpers/sandbox/clock")).json()["offset"] == 0


async def test_python_helpers_drive_the_same_sandbox(sandbox: Harness) -> None:
    endpoint_id, secret = await sandbox.in_server(
        lambda: sandbox.sandbox.add_webhook_endpoint(f"{sandbox.root}/hooks", ["customer.created"])
    )
    assert endpoint_id.startswith("we_") and secret.startswith("whsec_")
    chaos = await sandbox.in_server(lambda: sandbox.sandbox.set_chaos(duplicate=True))
    assert chaos.duplicate
    before = sandbox.sandbox.now()
    after = await sandbox.in_server(lambda: sandbox.sandbox.advance_clock(3600))
    assert after >= before + 3600
    await sandbox.client.v1.customers.create_async(params={"email": "a@example.com"})
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 2)


async def test_ensure_webhook_endpoint_reuses_one_endpoint_per_url(sandbox: Harness) -> None:
    url = f"{sandbox.root}/api/payments/webhook"
    first = await sandbox.in_server(lambda: sandbox.sandbox.ensure_webhook_endpoint(url))
    again = await sandbox.in_server(lambda: sandbox.sandbox.ensure_webhook_endpoint(url))
    other = await sandbox.in_server(lambda: sandbox.sandbox.ensure_webhook_endpoint(f"{url}/other"))
    assert first == again
    assert other[0] != first[0]
    listed = await sandbox.client.v1.webhook_endpoints.list_async()
    assert sorted(e.url for e in listed.data if e.url.startswith(url)) == [url, f"{url}/other"]


async def test_a_sandbox_database_from_before_event_retention_is_brought_up_to_date(
    empty_database_url: str,
) -> None:
    before = MetaData()
    Table("sandbox_events", before, *(c._copy() for c in events.columns if c.name != "kept_from"))
    engine = create_async_engine(empty_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(before.create_all)
    await engine.dispose()
    store = Store(SandboxConfig(database_url=empty_database_url))
    try:
        await store.create_tables()
        async with store.transaction() as tx:
            await tx.emit("customer.created", {"id": "cus_1", "object": "customer"})
            assert [e["type"] for e in await tx.list_events(None, {})] == ["customer.created"]
    finally:
        await store.dispose()

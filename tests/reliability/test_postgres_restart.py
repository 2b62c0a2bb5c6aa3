"""PostgreSQL restarted under Billhook: the first request and the first job after it work.

There is no pre-ping on pool checkout (a round trip per transaction); a pooled connection the
server closed is replaced at checkout instead (billhook/db/engine.py). On a PostgreSQL server of
the test's own, never the shared one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from billhook.db import create_engine
from billhook.outbox import enqueue
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.inbox import SECRET, event_payload, signed
from tests.support.outbox import EFFECT, build_runtime, count_effects
from tests.support.own_postgres import OwnPostgres, migrated_own_postgres
from tests.support.server import serving_billhook

pytestmark = pytest.mark.reliability


@pytest.fixture
async def server() -> AsyncIterator[OwnPostgres]:
    async with migrated_own_postgres() as pg:
        yield pg


async def restart(server: OwnPostgres) -> None:
    """Stop and start the server while the event loop runs (the pool sees its sockets close)."""
    await asyncio.to_thread(server.stop)
    await asyncio.to_thread(server.start)


async def test_the_pool_replaces_connections_the_server_closed(server: OwnPostgres) -> None:
    engine = create_engine(server.url, pool_size=2)
    try:
        async with engine.connect() as first, engine.connect() as second:  # two pooled connections
            assert await first.scalar(text("SELECT 1")) == await second.scalar(text("SELECT 1")) == 1
        await restart(server)
        for _ in range(3):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        async with engine.connect() as connection:  # one backend killed by an operator
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                     " AND datname = current_database()")
            )  # fmt: skip
        await asyncio.sleep(0.2)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_the_first_webhook_after_a_restart_is_stored(server: OwnPostgres) -> None:
    async with serving_billhook(make_settings(server.url, stripe_webhook_secret=SECRET)) as client:
        for n in range(4):  # several pooled connections in use before the restart
            body, headers = signed(event_payload(event_id=f"evt_before_{n}"))
            assert (
                await client.post("/api/payments/webhook", content=body, headers=headers)
            ).status_code == 200
        await restart(server)
        body, headers = signed(event_payload(event_id="evt_after_restart"))
        response = await client.post("/api/payments/webhook", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert (await client.get("/readyz")).status_code == 200


async def test_the_worker_runs_the_first_job_after_a_restart(server: OwnPostgres, tmp_path: Path) -> None:
    runtime = build_runtime(server.url)
    worker = OutboxWorker(runtime, concurrency=2, poll_interval=0.1)
    await worker.start()
    try:
        async with runtime.session_factory() as session:
            await enqueue(session, EFFECT, {}, key="before")
            await session.commit()
        await _wait_for_effects(runtime, 1)
        await restart(server)
        async with runtime.session_factory() as session:
            await enqueue(session, EFFECT, {}, key="after")
            await session.commit()
        await _wait_for_effects(runtime, 2)
        await asyncio.sleep(6)  # past the listener's reconnect pause: NOTIFY wakes the worker again
        worker.poll_interval = 30.0
        await asyncio.sleep(0.3)  # every slot is now idle for 30 s unless woken
        started = time.monotonic()
        async with runtime.session_factory() as session:
            await enqueue(session, EFFECT, {}, key="woken")
            await session.commit()
        await _wait_for_effects(runtime, 3, timeout=5.0)
        assert time.monotonic() - started < 5.0
    finally:
        await worker.aclose()
        await runtime.aclose()


async def _wait_for_effects(runtime: Runtime, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while await count_effects(runtime.session_factory) < count:
        assert time.monotonic() < deadline, f"fewer than {count} jobs ran within {timeout} s"
        await asyncio.sleep(0.05)

"""PostgreSQL frozen (SIGSTOP) under Billhook: bounded 503s, then recovery by itself, nothing lost.

On a PostgreSQL server of the test's own (never the shared one), with the default timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from billhook.db import create_engine
from billhook.models import InboxEvent
from tests.support.databases import make_settings
from tests.support.inbox import SECRET, event_payload, signed
from tests.support.own_postgres import OwnPostgres, migrated_own_postgres
from tests.support.server import serving_billhook

pytestmark = pytest.mark.reliability

WEBHOOK_BOUND = 5.0
READYZ_BOUND = 2.0


@pytest.fixture
async def server() -> AsyncIterator[OwnPostgres]:
    async with migrated_own_postgres() as pg:
        yield pg


@pytest.fixture
async def billhook(server: OwnPostgres, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serving_billhook(make_settings(server.url, stripe_webhook_secret=SECRET)) as client:
        try:
            yield client
        finally:
            server.resume()  # before the server stops: its shutdown must reach PostgreSQL


async def deliver(client: httpx.AsyncClient, event_id: str) -> tuple[int, float]:
    body, headers = signed(event_payload(event_id=event_id))
    started = time.monotonic()
    response = await client.post("/api/payments/webhook", content=body, headers=headers)
    return response.status_code, time.monotonic() - started


async def stored(server: OwnPostgres) -> list[str]:
    engine = create_engine(server.url)
    try:
        async with engine.connect() as connection:
            return list((await connection.scalars(select(InboxEvent.event_id))).all())
    finally:
        await engine.dispose()


async def eventually_200(client: httpx.AsyncClient, event_id: str, timeout: float = 20.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (await deliver(client, event_id))[0] == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"no 200 within {timeout} s of resuming")


async def test_a_frozen_database_gets_bounded_503s_and_recovers_with_nothing_lost(
    server: OwnPostgres, billhook: httpx.AsyncClient
) -> None:
    acknowledged = [f"evt_before_{n}" for n in range(5)]
    assert [(await deliver(billhook, event_id))[0] for event_id in acknowledged] == [200] * 5

    server.freeze()
    frozen = [f"evt_frozen_{n}" for n in range(6)]
    answers = await asyncio.gather(*(deliver(billhook, event_id) for event_id in frozen))
    started = time.monotonic()
    ready = await billhook.get("/readyz")
    readyz_seconds = time.monotonic() - started

    assert {status for status, _ in answers} == {503}
    assert max(seconds for _, seconds in answers) < WEBHOOK_BOUND
    assert ready.status_code == 503 and readyz_seconds < READYZ_BOUND

    server.resume()
    recovery = await eventually_200(billhook, "evt_after_resume")
    assert (await billhook.get("/readyz")).status_code == 200
    for event_id in frozen:  # what Stripe does with a 503: deliver again
        assert (await deliver(billhook, event_id))[0] == 200

    ids = await stored(server)
    assert sorted(ids) == sorted({*acknowledged, *frozen, "evt_after_resume"})  # each once
    slowest = max(seconds for _, seconds in answers)
    print(
        f"frozen: webhook 503 in <= {slowest:.2f} s, /readyz 503 in {readyz_seconds:.2f} s, "
        f"recovered in {recovery:.2f} s"
    )


async def test_a_stopped_database_gets_fast_503s_and_recovers_when_started_again(
    server: OwnPostgres, billhook: httpx.AsyncClient
) -> None:
    assert (await deliver(billhook, "evt_before_stop"))[0] == 200

    server.stop()
    answers = [await deliver(billhook, f"evt_stopped_{n}") for n in range(3)]
    ready = await billhook.get("/readyz")
    assert {status for status, _ in answers} == {503}
    assert max(seconds for _, seconds in answers) < WEBHOOK_BOUND
    assert ready.status_code == 503

    server.start()
    await eventually_200(billhook, "evt_after_start")
    for n in range(3):
        assert (await deliver(billhook, f"evt_stopped_{n}"))[0] == 200
    ids = await stored(server)
    assert sorted(ids) == sorted(
        {"evt_before_stop", "evt_after_start", *(f"evt_stopped_{n}" for n in range(3))}
    )

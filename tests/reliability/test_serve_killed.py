"""``billhook serve`` killed with SIGKILL under a webhook load, restarted, the rest re-sent.

Whatever the receiver acknowledged (200) before the kill is stored; after the restart the
deliveries that got no answer are sent again, as Stripe does, and every event is stored once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from billhook.db import create_engine
from billhook.models import InboxEvent
from tests.support.inbox import SECRET, event_payload, signed
from tests.support.server import free_port

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 8


@pytest.fixture
def postgres_url(backend: str, database_url: str) -> str:
    if backend != "postgresql":
        pytest.skip("production runs on PostgreSQL")
    return database_url


async def start_serve(database_url: str, tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "BILLHOOK_ENV": "test",
        "BILLHOOK_SECRET_KEY": "reliability-" + "x" * 32,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "BILLHOOK_EMBEDDED_WORKER": "false",
        "BILLHOOK_AUTO_MIGRATE": "false",
        "BILLHOOK_CATALOG": str(tmp_path / "no-catalog.toml"),
        "BILLHOOK_SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "billhook", "serve", "--host", "127.0.0.1", "--port", str(port),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("billhook serve did not start")


@pytest.fixture
async def served(
    postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[int, list[asyncio.subprocess.Process]]]:
    port = free_port()
    processes = [await start_serve(postgres_url, tmp_path, port)]
    try:
        yield port, processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def deliver(client: httpx.AsyncClient, event_id: str) -> bool:
    body, headers = signed(event_payload(event_id=event_id))
    try:
        response = await client.post("/api/payments/webhook", content=body, headers=headers)
    except httpx.TransportError:
        return False
    return response.status_code == 200


async def stored(database_url: str) -> tuple[set[str], int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            ids = set(await connection.scalars(select(InboxEvent.event_id)))
            rows = int(await connection.scalar(select(func.count()).select_from(InboxEvent)) or 0)
    finally:
        await engine.dispose()
    return ids, rows


async def test_serve_killed_under_load_loses_no_acknowledged_event_and_doubles_none(
    postgres_url: str, tmp_path: Path, served: tuple[int, list[asyncio.subprocess.Process]]
) -> None:
    port, processes = served
    acknowledged: set[str] = set()
    unanswered: set[str] = set()
    stop = asyncio.Event()

    async def sender(n: int) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            sequence = 0
            while not stop.is_set():
                event_id = f"evt_kill_{n}_{sequence}"
                sequence += 1
                (acknowledged if await deliver(client, event_id) else unanswered).add(event_id)

    senders = [asyncio.create_task(sender(n)) for n in range(SENDERS)]
    while len(acknowledged) < 200:
        await asyncio.sleep(0.05)
    processes[0].send_signal(signal.SIGKILL)  # mid-load: requests in flight lose their connection
    await processes[0].wait()
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*senders)
    before_restart, _ = await stored(postgres_url)
    assert acknowledged <= before_restart  # 0 acknowledged lost

    processes.append(await start_serve(postgres_url, tmp_path, port))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        resent = [
            await deliver(client, event_id) for event_id in sorted(unanswered | set(list(acknowledged)[:20]))
        ]
    assert all(resent)

    ids, rows = await stored(postgres_url)
    assert ids == acknowledged | unanswered
    assert rows == len(ids)  # 0 doubled
    print(
        f"serve SIGKILL: {len(acknowledged)} acknowledged, {len(unanswered)} unanswered then re-sent, "
        f"{len(acknowledged - before_restart)} lost, {rows - len(ids)} doubled"
    )

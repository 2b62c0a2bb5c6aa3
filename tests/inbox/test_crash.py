"""A worker killed with SIGKILL in the middle of an event loses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from billhook.models import AuditEntry, InboxEvent, OutboxJob, Subscription
from tests.support.inbox import InboxStack, all_event_ids, settled

ROOT = Path(__file__).resolve().parents[2]


async def read_until(stream: asyncio.StreamReader, prefix: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(stream.readline(), max(0.1, deadline - time.monotonic()))
        if not line:
            raise AssertionError(f"worker exited before {prefix!r}; said {lines}")
        lines.append(line.decode().strip())
        if lines[-1].startswith(prefix):
            return lines


@pytest.mark.reliability
async def test_sigkill_mid_event_then_restart(stack: InboxStack, database_url: str) -> None:
    await stack.server.connect_webhooks()
    subs = [await stack.shop.subscribe(f"k{n}@example.com") for n in range(2)]
    await settled(stack.server)
    events = await all_event_ids(stack.provider)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.inbox_worker_process",
        database_url,
        stack.server.api_base,
        "5",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    said = await read_until(process.stdout, "holding ")
    process.send_signal(signal.SIGKILL)
    await process.wait()
    held = said[-1].split()[1]
    assert sum(line.startswith("applied ") for line in said) == 5

    async with stack.runtime.session_factory() as session:
        row = await session.scalar(select(InboxEvent).where(InboxEvent.event_id == held))
        assert row is not None and row.status == "processing"  # its transaction never committed
    deadline = time.monotonic() + 20
    while True:  # the dead worker's lease (2 s) expires, then the event is claimed again
        await stack.worker.drain()
        async with stack.runtime.session_factory() as session:
            statuses = Counter(await session.scalars(select(InboxEvent.status)))
        if set(statuses) == {"processed"}:
            break
        assert time.monotonic() < deadline, statuses
        await asyncio.sleep(0.2)

    async with stack.runtime.session_factory() as session:
        assert sorted(await session.scalars(select(InboxEvent.event_id))) == sorted(events)
        audit = Counter(await session.execute(select(AuditEntry.subject_id, AuditEntry.action)))
        jobs = Counter(t for t in await session.scalars(select(OutboxJob.type)))
        mirrored = {s.stripe_id: s.status for s in await session.scalars(select(Subscription))}
        held_row = await session.scalar(select(InboxEvent).where(InboxEvent.event_id == held))
    assert set(audit.values()) == {1}, audit.most_common(3)
    assert jobs["order.record_paid"] == 2 and jobs["entitlements.sync"] == 2
    assert mirrored == {sub.id: "active" for sub in subs}
    assert held_row is not None and held_row.attempts == 2

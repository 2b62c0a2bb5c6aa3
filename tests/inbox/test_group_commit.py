"""The group-commit writer: many concurrent stores, capped batches, each answered once stored."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import GroupCommitWriter, Incoming
from billhook.kit.clock import utcnow
from billhook.models import InboxEvent
from tests.support.inbox import event_payload


def incoming(event_id: str) -> Incoming:
    payload = event_payload("invoice.paid", event_id=event_id)
    return Incoming(read_envelope(payload), payload, "webhook", None, utcnow(), body=json.dumps(payload))


async def test_concurrent_stores_go_in_capped_batches_and_each_is_answered(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    flush_batch = GroupCommitWriter._flush_batch

    async def counting(self: GroupCommitWriter, batch: list[tuple[Incoming, asyncio.Future[str]]]) -> object:
        sizes.append(len(batch))
        return await flush_batch(self, batch)

    monkeypatch.setattr(GroupCommitWriter, "_flush_batch", counting)
    writer = GroupCommitWriter(session_factory, max_batch=32)
    items = [incoming(f"evt_gc_{n:03d}") for n in range(100)] + [incoming("evt_gc_007")]
    try:
        answers = await asyncio.gather(*(writer.store(item) for item in items))
    finally:
        await writer.aclose()
    assert answers == ["queued"] * 101  # the repeat is stored already, not yet applied: "queued"
    assert sum(sizes) == 101 and max(sizes) <= 32 and len(sizes) >= 4
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(InboxEvent)) == 100

"""The API's own writes and late events: a subscription resumed through the API is never taken
back by the snapshot of an event made before the resume but delivered after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import select

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.kit.clock import utcnow
from billhook.models import InboxEvent, Subscription
from billhook.providers.base import PaymentProvider
from billhook.runtime import Runtime
from tests.support.provider_calls import RecordingProvider
from tests.support.stack import Stack, running_stack, sandbox_template
from tests.support.subscriptions import post, subscribed

__all__ = ["sandbox_template"]


@pytest.fixture
async def shop(database_url: str, tmp_path: Path, sandbox_template: Path) -> AsyncIterator[Stack]:
    async with running_stack(database_url, tmp_path, sandbox_template) as running:
        yield running


def worker_of(stack: Stack, provider: RecordingProvider) -> InboxWorker:
    """An inbox worker on this test's event loop and the stack's database. Without a clock-skew
    margin, one second apart is enough to be "newer" (the default 5 s would make the test wait)."""
    runtime = SimpleNamespace(
        session_factory=stack.db,
        provider=cast(PaymentProvider, provider),
        clock=stack.clock,
        engine=stack.engine,
    )
    options = WorkerOptions(reconcile_interval=None, fetch_skew_margin=timedelta(0))
    return InboxWorker(cast(Runtime, runtime), options)


async def test_a_late_event_older_than_a_resume_does_not_undo_it(shop: Stack) -> None:
    ada = await subscribed(shop)
    assert (await post(shop, ada, "/api/subscription/cancel")).status_code == 200
    await shop.settled()  # the cancel and its events are applied
    await shop.stop_workers()
    await shop.hold_webhooks()
    async with shop.db() as session:
        sub_id = await session.scalar(select(Subscription.stripe_id))
    assert sub_id is not None

    await asyncio.sleep(1.1)
    # A change made at the provider itself (the dashboard): its event is not delivered yet.
    await shop.provider.client.v1.subscriptions.update_async(sub_id, params={"metadata": {"note": "ops"}})
    late = (await shop.provider.list_events(types=["customer.subscription.updated"], limit=1)).events[0]
    assert late.data_object["cancel_at_period_end"] is True
    assert late.data_object["metadata"]["note"] == "ops"
    await asyncio.sleep(1.1)

    resumed = await post(shop, ada, "/api/subscription/resume")
    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False

    async with shop.db() as session:  # now the late event arrives
        await insert_events(session, [Incoming(read_envelope(late.raw), late.raw, "webhook", None, utcnow())])
        await session.commit()
    recorder = RecordingProvider(shop.provider)
    assert await worker_of(shop, recorder).drain() == 1

    async with shop.db() as session:
        mirrored = await session.scalar(select(Subscription.cancel_at_period_end))
        status = await session.scalar(select(InboxEvent.status).where(InboxEvent.event_id == late.id))
    assert mirrored is False  # the resume's state, not the late snapshot's
    assert status == "processed"
    assert recorder.calls["get_subscription"] == 1  # older than the resume's version: fetched

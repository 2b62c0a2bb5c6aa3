"""A user's action and the inbox worker writing one subscription's mirror at the same moment.

The worker re-fetches a subscription, then writes it. If a user's resume lands between the two,
the worker's copy is older than the resume's: it must not be the one left in the mirror.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select

from billhook.inbox.replay import replay
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.models import InboxEvent, Subscription
from billhook.providers.base import PaymentProvider, ProviderSubscription
from billhook.runtime import Runtime
from tests.support.stack import Stack
from tests.support.subscriptions import post, subscribed


class PausedAfterFetch:
    """The provider, except that ``get_subscription`` waits after fetching until ``go`` is set."""

    def __init__(self, provider: PaymentProvider) -> None:
        self._provider = provider
        self.fetched = asyncio.Event()
        self.go = asyncio.Event()

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription:
        subscription = await self._provider.get_subscription(subscription_id)
        self.fetched.set()
        await self.go.wait()
        return subscription

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)


def worker_of(stack: Stack, provider: PausedAfterFetch) -> InboxWorker:
    """An inbox worker on this test's event loop, on the stack's database, using ``provider``."""
    runtime = SimpleNamespace(
        session_factory=stack.db, provider=provider, clock=stack.clock, engine=stack.engine
    )
    return InboxWorker(cast(Runtime, runtime), WorkerOptions(reconcile_interval=None))


async def test_a_worker_fetch_older_than_a_resume_does_not_undo_it(stack: Stack) -> None:
    ada = await subscribed(stack)
    assert (await post(stack, ada, "/api/subscription/cancel")).status_code == 200
    await stack.settled()
    await stack.stop_workers()
    async with stack.db() as session:
        cancel_event = await session.scalar(
            select(InboxEvent.event_id)
            .where(InboxEvent.type == "customer.subscription.updated")
            .order_by(InboxEvent.received_at.desc())
            .limit(1)
        )
    assert cancel_event is not None

    provider = PausedAfterFetch(stack.provider)
    applying = asyncio.create_task(replay(worker_of(stack, provider), cancel_event))
    await asyncio.wait_for(provider.fetched.wait(), 15)  # the worker holds "cancel at period end"
    resuming = asyncio.create_task(post(stack, ada, "/api/subscription/resume"))
    await asyncio.wait({resuming}, timeout=1.0)  # a resume not kept waiting lands in this second
    provider.go.set()

    assert await asyncio.wait_for(applying, 15) == "processed"
    resumed = await asyncio.wait_for(resuming, 15)
    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False
    async with stack.db() as session:
        mirrored = await session.scalar(select(Subscription.cancel_at_period_end))
    assert mirrored is False  # the resume's state, not the worker's older copy
    assert (await stack.provider.get_subscription(resumed.json()["id"])).cancel_at_period_end is False

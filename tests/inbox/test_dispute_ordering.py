"""A dispute's or refund's event waits for its customer's other events (the customer's mirror lock).

Stripe's Dispute and Refund objects name no customer, so their events are keyed by their own id
and may be applied beside the customer's other events; the handler lines up behind those by
taking the customer's mirror lock before writing, in the same order as the customer's groups.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billhook.db.locks import hold_mirror_of
from billhook.inbox.handlers.base import HandlerContext
from billhook.inbox.handlers.payments import dispute_created
from billhook.providers.base import ProviderCharge, ProviderDispute, ProviderEvent

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class DisputedCharge:
    """The provider as the dispute handler reads it: one dispute on one customer's charge."""

    async def get_dispute(self, dispute_id: str) -> ProviderDispute:
        return ProviderDispute(dispute_id, "ch_1", None, 2500, "usd", "needs_response", reason="fraudulent")

    async def get_charge(self, charge_id: str) -> ProviderCharge:
        return ProviderCharge(charge_id, None, "cus_ada", 2500, "usd", "succeeded", disputed=True)


def _event() -> ProviderEvent:
    return ProviderEvent(
        "evt_1", "charge.dispute.created", NOW, False, None, {"id": "dp_1", "object": "dispute"}
    )


async def test_a_dispute_waits_for_the_customers_mirror_lock(
    backend: str, engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    if backend != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite lets one writer in at a time")
    provider: Any = DisputedCharge()
    async with engine.connect() as customer_group:
        await customer_group.begin()
        await hold_mirror_of(customer_group, "cus_ada")  # the customer's own events being applied

        async def apply() -> None:
            async with session_factory() as session:
                await dispute_created(HandlerContext(session, provider, _event(), NOW))
                await session.commit()

        task = asyncio.create_task(apply())
        await asyncio.wait({task}, timeout=2)  # ample for the handler when nothing holds it up
        assert not task.done()  # in line behind the customer's group
        await customer_group.rollback()
    await asyncio.wait_for(task, timeout=5)

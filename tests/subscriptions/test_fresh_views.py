"""Every mirror write marks the user's cached views stale, once per transaction
(billhook/customers/views.py, issue #18); tests/journeys/test_status_seen_at_once.py is the journey."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.audit import Cause
from billhook.entitlements.service import sync_entitlements
from billhook.invoices.service import sync_invoice
from billhook.models import Customer as CustomerRow
from billhook.models import OutboxJob, User
from billhook.payments.service import sync_payment
from billhook.providers.base import (
    ProviderInvoice,
    ProviderPaymentIntent,
    ProviderSubscription,
)
from billhook.subscriptions.service import sync_subscription
from tests.support import entitlement_factories as factories
from tests.support.entitlement_factories import seed_catalog

CAUSE = Cause(event_id="evt_1", event_type="test")


async def invalidations(factory: async_sessionmaker[AsyncSession]) -> list[tuple[str, Any]]:
    async with factory() as session:
        rows = await session.execute(
            select(OutboxJob.type, OutboxJob.payload).where(OutboxJob.type.like("%invalidate%"))
        )
        return sorted((kind, payload.get("user_id")) for kind, payload in rows)


async def a_customer(factory: async_sessionmaker[AsyncSession]) -> str:
    async with factory() as session:
        user = User(email="ada@example.com", password_hash="x", role="free")
        session.add(user)
        await session.flush()
        session.add(CustomerRow(stripe_id="cus_1", user_id=user.id, email=user.email, raw={}))
        await session.commit()
        return user.id


STALE = "subscriptions.invalidate_cache"
STATS = "payments.invalidate_stats"


@pytest.mark.parametrize("write", ["subscription", "invoice", "payment"])
async def test_every_mirror_write_marks_the_users_views_stale_once_per_transaction(
    session_factory: async_sessionmaker[AsyncSession], write: str
) -> None:
    user_id = await a_customer(session_factory)
    async with session_factory() as session:
        for status in ("active", "past_due"):  # two changes, one transaction
            if write == "subscription":
                await sync_subscription(session, ProviderSubscription("sub_1", "cus_1", status), CAUSE)
            elif write == "invoice":
                invoice = ProviderInvoice("in_1", "cus_1", None, status, "usd")
                await sync_invoice(session, invoice, CAUSE)
            else:
                intent = ProviderPaymentIntent(
                    id="pi_1", customer_id="cus_1", amount=100, currency="usd",
                    status="succeeded" if status == "active" else "processing", amount_received=100,
                )  # fmt: skip
                await sync_payment(session, intent, None, CAUSE)
        await session.commit()
    assert await invalidations(session_factory) == [(STATS, None), (STALE, user_id)]


async def test_an_entitlement_change_marks_the_users_views_stale(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await seed_catalog(session)
        owner = await factories.user(session)
        await factories.subscription(session, status="active", owner=owner)
        await session.commit()
    async with session_factory() as session:
        change = await sync_entitlements(session, owner.id)
        await session.commit()
    assert change.changed and change.role_after == "premium"
    assert await invalidations(session_factory) == [(STATS, None), (STALE, owner.id)]

"""sync_entitlements applies the rules to users.role and audits every grant and revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.entitlements import register_jobs, sync_entitlements
from billhook.models import AuditEntry, Price
from billhook.outbox import JobContext, JobRegistry, PermanentJobError
from tests.support import entitlement_factories as factories

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def audit(session: AsyncSession, user_id: str) -> list[tuple[str, object, str | None]]:
    """(action, entitlement name or (role from, role to), causing event id) per audit entry."""
    rows = await session.scalars(
        select(AuditEntry).where(AuditEntry.user_id == user_id).order_by(AuditEntry.action)
    )
    return [(r.action, r.changes.get("entitlement") or _role(r.changes), r.event_id) for r in rows]


def _role(changes: dict[str, Any]) -> tuple[str, str]:
    return (changes["role"]["from"], changes["role"]["to"])


async def test_an_active_subscription_grants_the_role_and_audits_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        ada = await factories.user(session)
        cus = await factories.customer(session, ada)
        await factories.subscription(session, status="active", customer=cus)
        change = await sync_entitlements(
            session, ada.id, cause_event_id="evt_1", cause_event_type="customer.subscription.created", now=NOW
        )
        await session.commit()
        assert (change.role_before, change.role_after) == ("free", "premium")
        assert change.granted == ("courses.advanced", "courses.basic", "support.email")
        assert ada.role == "premium"
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.user_id == ada.id))).all()
        assert {e.action for e in entries} == {"entitlements.role_granted", "entitlements.granted"}
        assert len(entries) == 4
        assert all(e.event_id == "evt_1" and e.event_type == "customer.subscription.created" for e in entries)
        assert all(e.actor == "webhook" and e.subject_id == ada.id for e in entries)
        [role_entry] = [e for e in entries if e.action == "entitlements.role_granted"]
        assert role_entry.changes["role"] == {"from": "free", "to": "premium"}
        assert "premium_sub" in (role_entry.message or "")


async def test_a_second_sync_without_changes_writes_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        ada = await factories.user(session)
        await factories.subscription(session, status="trialing", owner=ada)
        await sync_entitlements(session, ada.id, now=NOW)
        before = len(await audit(session, ada.id))
        again = await sync_entitlements(session, ada.id, now=NOW)
        assert not again.changed
        assert len(await audit(session, ada.id)) == before


async def test_cancellation_revokes_role_and_entitlements_with_the_event(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        ada = await factories.user(session)
        sub = await factories.subscription(session, status="active", owner=ada)
        await sync_entitlements(session, ada.id, now=NOW)
        sub.status = "canceled"
        change = await sync_entitlements(
            session, ada.id, cause_event_id="evt_2", cause_event_type="customer.subscription.deleted", now=NOW
        )
        assert (change.role_after, ada.role) == ("free", "free")
        assert change.revoked == ("courses.advanced", "courses.basic", "support.email")
        revokes = [a for a in await audit(session, ada.id) if a[2] == "evt_2"]
        assert ("entitlements.role_revoked", ("premium", "free"), "evt_2") in revokes
        assert sum(1 for a in revokes if a[0] == "entitlements.revoked") == 3


async def test_past_due_keeps_access_within_grace_then_revokes(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        ada = await factories.user(session)
        await factories.subscription(
            session, status="past_due", owner=ada, period_start=NOW - timedelta(days=3)
        )
        assert (await sync_entitlements(session, ada.id, now=NOW)).role_after == "premium"
        later = NOW + timedelta(days=4, seconds=1)
        assert (await sync_entitlements(session, ada.id, now=later)).role_after == "free"
        assert (
            await sync_entitlements(session, ada.id, now=NOW, grace=timedelta(days=30))
        ).role_after == "premium"


async def test_admins_and_coaches_keep_their_role_but_get_entitlements(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        for role in ("admin", "coach"):
            staff = await factories.user(session, f"{role}@example.com", role=role)
            await factories.subscription(session, status="canceled", owner=staff)
            await factories.paid_order(session, staff, "starter")
            change = await sync_entitlements(session, staff.id, now=NOW)
            assert (change.role_after, staff.role) == (role, role)
            assert change.granted == ("courses.basic",)
            assert not [a for a in await audit(session, staff.id) if "role" in a[0]]


async def test_one_time_purchases_grant_and_refunded_orders_do_not(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        ada = await factories.user(session)
        await factories.paid_order(session, ada, "pro", status="refunded")
        assert (await sync_entitlements(session, ada.id, now=NOW)).role_after == "free"
        await factories.paid_order(session, ada, "starter")
        change = await sync_entitlements(session, ada.id, now=NOW)
        assert change.role_after == "starter"
        assert change.granted == ("courses.basic",)


async def test_a_subscription_without_product_is_matched_by_its_price(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await factories.seed_catalog(session)
        price = await session.scalar(
            select(Price).where(Price.lookup_key == "billhook:enterprise_sub:usd:v1")
        )
        assert price is not None
        price.stripe_id = "price_enterprise"
        ada = await factories.user(session)
        await factories.subscription(
            session, status="active", owner=ada, product_id=None, price_stripe_id="price_enterprise"
        )
        assert (await sync_entitlements(session, ada.id, now=NOW)).role_after == "enterprise"


async def test_the_job_syncs_by_user_or_customer(
    session_factory: async_sessionmaker[AsyncSession], settings: object
) -> None:
    from billhook.runtime import Runtime  # noqa: PLC0415 (keeps the fixture list short)

    registry = JobRegistry()
    register_jobs(registry)
    handler = registry.get("entitlements.sync").handler
    runtime = Runtime.build(settings)  # type: ignore[arg-type]
    try:
        async with session_factory() as session:
            await factories.seed_catalog(session)
            ada = await factories.user(session)
            cus = await factories.customer(session, ada)
            orphan = await factories.customer(session, None)
            await factories.subscription(session, status="active", customer=cus)

            def ctx(payload: dict[str, str]) -> JobContext:
                return JobContext(session, runtime, "job_1", "key", "entitlements.sync", payload, 1)

            await handler(ctx({"customer_id": orphan.stripe_id}))  # no user yet: nothing to do
            await handler(ctx({"customer_id": cus.stripe_id, "cause_event_id": "evt_9"}))
            assert ada.role == "premium"
            assert {a[2] for a in await audit(session, ada.id)} == {"evt_9"}
            for bad in ({}, {"user_id": "usr_gone"}):
                with pytest.raises(PermanentJobError):
                    await handler(ctx(bad))
    finally:
        await runtime.aclose()

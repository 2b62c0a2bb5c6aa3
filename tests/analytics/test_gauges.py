"""``/metrics`` gains MRR and subscriptions by plan and status, refreshed on scrape."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.analytics.metrics import LAST, refresh_gauges, refresh_on_scrape
from billhook.http.metrics import router as metrics_router
from tests.support.analytics_factories import subscription, sync
from tests.support.app_harness import harness


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_gauges_show_mrr_trial_mrr_and_subscriptions_by_plan_and_status(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_1", "cus_1", amount=2000, plan="pro"))
        await sync(session, subscription("sub_2", "cus_2", "past_due", amount=1000, plan="pro"))
        await sync(
            session, subscription("sub_3", "cus_3", "trialing", amount=900, plan="basic", trial_days=7)
        )
        await session.commit()
        assert await refresh_gauges(session, force=True)
    assert _value("billhook_mrr_minor_units", currency="usd") == 3000
    assert _value("billhook_trial_mrr_minor_units", currency="usd") == 900
    assert _value("billhook_plan_mrr_minor_units", plan="prod_pro", currency="usd") == 3000
    assert _value("billhook_subscriptions", plan="prod_pro", status="past_due") == 1
    assert _value("billhook_subscriptions", plan="prod_basic", status="trialing") == 1


async def test_a_status_that_is_gone_leaves_the_gauges(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_g", "cus_g", "trialing", plan="gone", trial_days=7))
        await refresh_gauges(session, force=True)
        await sync(session, subscription("sub_g", "cus_g", "active", plan="gone", trial_days=7))
        await refresh_gauges(session, force=True)
    assert _value("billhook_subscriptions", plan="prod_gone", status="trialing") is None
    assert _value("billhook_subscriptions", plan="prod_gone", status="active") == 1


async def test_a_scrape_within_the_refresh_interval_does_not_query(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await refresh_gauges(session, force=True)
        assert not await refresh_gauges(session)


async def test_metrics_scrape_refreshes_the_gauges_through_the_apps_hook(database_url: str) -> None:
    async with harness(database_url) as h:
        h.app.include_router(metrics_router)
        h.app.state.metrics_refreshers = [refresh_on_scrape]
        async with h.runtime.session_factory() as session:
            await sync(session, subscription("sub_s", "cus_s", amount=4200, currency="gbp", plan="scraped"))
            await session.commit()
        LAST.at = None
        body = (await h.client.get("/metrics")).text
    assert 'billhook_mrr_minor_units{currency="gbp"} 4200.0' in body
    assert 'billhook_subscriptions{plan="prod_scraped",status="active"} 1.0' in body

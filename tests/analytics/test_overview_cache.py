"""The one overview cache (service.cached_overview) of the admin page, the JSON, the CSV and the CLI:
keyed on period, interval and currency, at most 30 s old, in memory and on Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.analytics.periods import parse_period
from billhook.analytics.schemas import Period
from billhook.analytics.service import (
    OVERVIEW_CACHE_TTL_SECONDS,
    cached_overview,
    overview_cache_key,
)
from billhook.cache import BillhookCache, build_cache
from billhook.errors import InvalidInput
from tests.support.analytics_factories import day, subscription, sync
from tests.support.databases import REDIS_TEST_URL, make_settings, unavailable

NOW = day(31) + timedelta(hours=12)


def january(interval: str = "week", *, seed: int) -> Period:
    """January from a second of its first day that no test running beside this one picks: the
    cache may be one Redis for every test worker."""
    start = day(0) + timedelta(seconds=seed)
    return parse_period("custom", start.isoformat(), "2026-01-31", interval, NOW)


@pytest.fixture
def seed() -> int:
    return secrets.randbelow(86_400)


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, backend: str) -> AsyncIterator[BillhookCache]:
    redis_url = REDIS_TEST_URL if request.param == "redis" else None
    built = build_cache(make_settings("sqlite+aiosqlite:///unused.db", redis_url=redis_url))
    try:
        await built.ping()
    except OSError as exc:
        unavailable("Redis", exc)
    try:
        yield built  # keys are the test's own (its seed) and expire within 30 s
    finally:
        await built.aclose()


async def _add(session: AsyncSession, stripe_id: str, amount: int) -> None:
    await sync(session, subscription(stripe_id, f"cus_{stripe_id}", amount=amount, start=day(2)))
    await session.commit()


async def test_a_change_shows_once_the_cached_figures_expire(
    session_factory: async_sessionmaker[AsyncSession], cache: BillhookCache, seed: int
) -> None:
    period = january(seed=seed)
    async with session_factory() as session:
        await _add(session, "sub_a", 1000)
        first = await cached_overview(session, cache, period, currency="usd", now=NOW)
        await _add(session, "sub_b", 500)
        again = await cached_overview(session, cache, period, currency="USD", now=NOW)
        key = overview_cache_key(period, "usd", NOW)
        expires_in = await cache.backend.get_expire(cache.key(*key))
        await cache.delete(*key)  # what the TTL does at most 30 s later
        fresh = await cached_overview(session, cache, period, currency="usd", now=NOW)
    assert first.mrr == again.mrr == 1000 and again == first
    assert 0 < expires_in <= OVERVIEW_CACHE_TTL_SECONDS <= 60  # fresh within a minute of a change
    assert fresh.mrr == 1500


async def test_period_interval_and_currency_each_have_their_own_figures(
    session_factory: async_sessionmaker[AsyncSession], cache: BillhookCache, seed: int
) -> None:
    by_week, by_day, later = january(seed=seed), january("day", seed=seed), january(seed=seed + 1)
    async with session_factory() as session:
        await _add(session, "sub_a", 1000)
        weekly = await cached_overview(session, cache, by_week, currency=None, now=NOW)
        await _add(session, "sub_b", 500)
        daily = await cached_overview(session, cache, by_day, currency=None, now=NOW)
        in_usd = await cached_overview(session, cache, by_week, currency="usd", now=NOW)
        other = await cached_overview(session, cache, later, currency=None, now=NOW)
    assert (weekly.mrr, daily.mrr, in_usd.mrr, other.mrr) == (1000, 1500, 1500, 1500)
    assert len(daily.series) > len(weekly.series)


async def test_a_period_ending_now_is_found_again_a_moment_later(
    session_factory: async_sessionmaker[AsyncSession], cache: BillhookCache, seed: int
) -> None:
    now = NOW + timedelta(days=seed)  # its own day: a preset's start is the day's midnight
    later = now + timedelta(seconds=5)
    async with session_factory() as session:
        await _add(session, "sub_a", 1000)
        first = await cached_overview(session, cache, _last_30_days(now), currency=None, now=now)
        await _add(session, "sub_b", 500)
        again = await cached_overview(session, cache, _last_30_days(later), currency=None, now=later)
    assert again.mrr == first.mrr == 1000


def _last_30_days(now: datetime) -> Period:
    return parse_period("30d", None, None, None, now)


async def test_a_bad_currency_is_refused_not_cached(
    session_factory: async_sessionmaker[AsyncSession], cache: BillhookCache, seed: int
) -> None:
    async with session_factory() as session:
        with pytest.raises(InvalidInput, match="three-letter"):
            await cached_overview(session, cache, january(seed=seed), currency="dollars", now=NOW)

"""The cache, in memory and on Redis: namespaced, versioned keys, TTLs, counters; and the
deny-list and throttle running on Redis end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from billhook.cache import BillhookCache, build_cache
from tests.support.app_harness import harness
from tests.support.databases import REDIS_TEST_URL, make_settings, unavailable


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[BillhookCache]:
    redis_url = REDIS_TEST_URL if request.param == "redis" else None
    built = build_cache(make_settings("sqlite+aiosqlite:///unused.db", redis_url=redis_url))
    assert built.is_redis is (redis_url is not None)
    try:
        await built.ping()
    except OSError as exc:  # the same rule as the redis_url fixture: fail in CI, skip elsewhere
        unavailable("Redis", exc)
    try:
        yield built
    finally:
        await built.backend.delete_match("billhook:v1:test:*")
        await built.aclose()


def test_keys_are_namespaced_and_versioned() -> None:
    assert BillhookCache.key("revoked-session", "abc") == "billhook:v1:revoked-session:abc"
    with pytest.raises(ValueError, match="non-empty"):
        BillhookCache.key("test", "")


async def test_values_round_trip_and_expire(cache: BillhookCache) -> None:
    await cache.set("test", "greeting", value={"hello": "world"}, ttl_seconds=30)
    assert await cache.get("test", "greeting") == {"hello": "world"}
    assert await cache.exists("test", "greeting")
    assert 0 < await cache.backend.get_expire("billhook:v1:test:greeting") <= 30
    await cache.delete("test", "greeting")
    assert await cache.get("test", "greeting") is None


async def test_counters_count_and_keep_the_ttl_of_their_first_increment(cache: BillhookCache) -> None:
    assert await cache.count("test", "n") == 0
    assert [await cache.incr("test", "n", ttl_seconds=60) for _ in range(3)] == [1, 2, 3]
    assert await cache.count("test", "n") == 3
    assert 0 < await cache.backend.get_expire("billhook:v1:test:n") <= 60


async def test_two_caches_on_one_redis_share_state(redis_url: str) -> None:
    settings = make_settings("sqlite+aiosqlite:///unused.db", redis_url=redis_url)
    first, second = build_cache(settings), build_cache(settings)
    try:
        await first.set("test", "shared", value=1, ttl_seconds=30)
        assert await second.get("test", "shared") == 1
    finally:
        await first.backend.delete_match("billhook:v1:test:*")
        await first.aclose()
        await second.aclose()


async def test_logout_and_throttling_write_namespaced_keys_to_redis(
    database_url: str, redis_url: str
) -> None:
    async with harness(database_url, redis_url=redis_url) as h:
        headers = await h.bearer()
        await h.client.post("/api/auth/login", json={"email": "ada@example.com", "password": "wrong one"})
        assert (await h.client.post("/api/auth/logout", headers=headers)).status_code == 204
        assert (await h.client.get("/api/me", headers=headers)).status_code == 401
        client = aioredis.from_url(redis_url)
        try:
            keys = sorted(k.decode() for k in await client.keys("billhook:v1:*"))
            [revoked] = [k for k in keys if k.startswith("billhook:v1:revoked-session:")]
            # Denied until the token would have expired: seven days.
            assert 6 * 86400 < await client.ttl(revoked) <= 7 * 86400
            assert any(k.startswith("billhook:v1:login-failures:account:") for k in keys)
        finally:
            await client.aclose()

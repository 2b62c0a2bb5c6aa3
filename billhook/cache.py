"""The cache: cashews, in memory by default and on Redis when ``REDIS_URL`` is set.

Every key goes through :meth:`BillhookCache.key`, which namespaces and versions it
(``billhook:v1:<part>:<part>``) so Billhook can share a Redis with other applications and a
change of what a key holds is a version bump, not a flush. One :class:`BillhookCache` is built per
runtime by :func:`build_cache`; nothing is configured at import time.
"""

from __future__ import annotations

import warnings
from typing import Any

from cashews import Cache

from billhook.config import Settings

NAMESPACE = "billhook"
VERSION = "v1"


class BillhookCache:
    """A namespaced view of one cashews :class:`~cashews.Cache` (reachable as ``backend``)."""

    def __init__(self, backend: Cache, *, url: str) -> None:
        self.backend = backend
        self.url = url

    @staticmethod
    def key(*parts: str) -> str:
        """``billhook:v1:part:part``; parts must not be empty."""
        if not parts or any(not part for part in parts):
            raise ValueError("cache keys need at least one non-empty part")
        return ":".join((NAMESPACE, VERSION, *parts))

    @property
    def is_redis(self) -> bool:
        return self.url.startswith(("redis://", "rediss://", "unix://"))

    async def get(self, *parts: str) -> Any:
        return await self.backend.get(self.key(*parts))

    async def set(self, *parts: str, value: Any, ttl_seconds: float | None = None) -> None:
        await self.backend.set(self.key(*parts), value, expire=_ttl(ttl_seconds))

    async def exists(self, *parts: str) -> bool:
        return bool(await self.backend.exists(self.key(*parts)))

    async def delete(self, *parts: str) -> None:
        await self.backend.delete(self.key(*parts))

    async def incr(self, *parts: str, ttl_seconds: float) -> int:
        """Add one and return the new count; the window's TTL starts with the first increment."""
        count = await self.backend.incr(self.key(*parts), expire=_ttl(ttl_seconds))
        return int(count)

    async def count(self, *parts: str) -> int:
        value = await self.backend.get(self.key(*parts))
        return int(value or 0)

    async def ping(self) -> bool:
        return bool(await self.backend.ping())

    async def aclose(self) -> None:
        with warnings.catch_warnings():
            # cashews 7.6 closes its Redis client with redis-py's deprecated close().
            warnings.simplefilter("ignore", DeprecationWarning)
            await self.backend.close()


def _ttl(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    # A TTL of zero or less would mean "forever" to some backends; keep it just alive instead.
    return max(seconds, 1.0)


def build_cache(settings: Settings) -> BillhookCache:
    """One cache per runtime: Redis when ``REDIS_URL`` is set, process memory otherwise."""
    url = settings.redis_url or "mem://?size=100000"
    backend = Cache(name=f"{NAMESPACE}-{id(settings):x}")
    if settings.redis_url:
        # suppress=False: a Redis outage must surface (a deny-list that silently answers
        # "not revoked" would let a signed-out token back in).
        backend.setup(url, suppress=False)
    else:
        backend.setup(url)
    return BillhookCache(backend, url=url)

"""Login throttling: counters of failures per account and per client address, kept in the cache."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from billhook.accounts.errors import LoginThrottled
from billhook.accounts.policy import ThrottlePolicy
from billhook.cache import BillhookCache

Sleep = Callable[[float], Awaitable[None]]


def _digest(value: str) -> str:
    # Emails and addresses are hashed: cache keys show up in Redis tooling and logs.
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class LoginThrottle:
    def __init__(self, cache: BillhookCache, policy: ThrottlePolicy, sleep: Sleep = asyncio.sleep) -> None:
        self._cache = cache
        self._policy = policy
        self._sleep = sleep

    def _keys(self, email: str, address: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        return ("login-failures", "account", _digest(email)), ("login-failures", "address", _digest(address))

    async def before_attempt(self, email: str, address: str) -> None:
        """Refuse (429) a blocked account or address; otherwise wait as long as the failures earn."""
        account_key, address_key = self._keys(email, address)
        account = await self._cache.count(*account_key)
        by_address = await self._cache.count(*address_key)
        policy = self._policy
        if account >= policy.account_block_after or by_address >= policy.address_block_after:
            raise LoginThrottled(
                "too many failed sign-in attempts; wait a few minutes and try again",
                retry_after_seconds=int(policy.window.total_seconds()),
            )
        excess = max(account - policy.account_slow_after, by_address - policy.address_slow_after, -1)
        if excess >= 0:
            delay = min(policy.base_delay_seconds * (2**excess), policy.max_delay_seconds)
            await self._sleep(delay)

    async def failed(self, email: str, address: str) -> None:
        ttl = self._policy.window.total_seconds()
        for key in self._keys(email, address):
            await self._cache.incr(*key, ttl_seconds=ttl)

    async def succeeded(self, email: str) -> None:
        """A correct password clears the account's count (not the address's: one IP, many accounts)."""
        account_key, _ = self._keys(email, "")
        await self._cache.delete(*account_key)

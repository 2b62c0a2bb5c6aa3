"""Login throttling that slows guessing without ever locking anyone out.

Failures are counted per account and per client address (in the cache, forgotten ``window``
after the first). Past a few free failures each further one earns a wait that doubles up to a
cap; an attempt during the wait is answered 429 with ``Retry-After``, and nothing else happens.
Once the wait is over the right password works, whoever kept failing meanwhile: there is no
permanent lock for an attacker to trigger on someone else's email (OWASP's "Blocking Brute
Force Attacks": lockouts are themselves a denial of service). A confirmed password reset clears
the account's count, so the reset path always gets its owner back in at once.
"""

from __future__ import annotations

import hashlib
import math

from billhook.accounts.errors import LoginThrottled
from billhook.accounts.policy import ThrottlePolicy
from billhook.cache import BillhookCache
from billhook.kit.clock import Clock

Key = tuple[str, str, str]


def _digest(value: str) -> str:
    # Emails and addresses are hashed: cache keys show up in Redis tooling and logs.
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class LoginThrottle:
    def __init__(self, cache: BillhookCache, policy: ThrottlePolicy, clock: Clock) -> None:
        self._cache = cache
        self._policy = policy
        self._clock = clock

    def _limits(self, email: str, address: str) -> list[tuple[str, str, int]]:
        policy = self._policy
        return [
            ("account", _digest(email), policy.account_slow_after),
            ("address", _digest(address), policy.address_slow_after),
        ]

    async def before_attempt(self, email: str, address: str) -> None:
        """429 with ``retry_after_seconds`` while the account or the address is made to wait."""
        now = self._clock.now().timestamp()
        wait = 0.0
        for scope, digest, _free in self._limits(email, address):
            until = await self._cache.get("login-wait", scope, digest)
            if until is not None:
                wait = max(wait, float(until) - now)
        if wait > 0:
            seconds = math.ceil(wait)
            raise LoginThrottled(
                f"too many failed sign-in attempts; try again in {seconds} seconds",
                retry_after_seconds=seconds,
            )

    async def failed(self, email: str, address: str) -> None:
        """Count a failure; past the free ones, make the next attempt wait (doubling, capped)."""
        policy = self._policy
        now = self._clock.now().timestamp()
        for scope, digest, free in self._limits(email, address):
            failures = await self._cache.incr(
                "login-failures", scope, digest, ttl_seconds=policy.window.total_seconds()
            )
            if failures > free:
                delay = min(policy.base_delay_seconds * 2 ** (failures - free - 1), policy.max_delay_seconds)
                await self._cache.set("login-wait", scope, digest, value=now + delay, ttl_seconds=delay)

    async def succeeded(self, email: str) -> None:
        """The right password, or a confirmed reset, clears the account's count and wait.

        Not the address's: one address trying many accounts stays slowed.
        """
        digest = _digest(email)
        await self._cache.delete("login-failures", "account", digest)
        await self._cache.delete("login-wait", "account", digest)

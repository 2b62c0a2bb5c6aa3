"""``RecordingProvider``: the provider seam with every read counted and its overlap measured."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from billhook.providers.base import PaymentProvider


class RecordingProvider:
    """Wraps a provider: ``calls`` counts reads by method, ``peak`` is the most in flight at once.

    ``delay`` holds each read that long, so reads that could overlap do."""

    def __init__(self, provider: PaymentProvider, delay: float = 0.0) -> None:
        self._provider = provider
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._provider, name)
        if not name.startswith("get_"):
            return target
        return self._recorded(name, target)

    def _recorded(self, name: str, target: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                return await target(*args, **kwargs)
            finally:
                self.in_flight -= 1

        return call

"""A round of background work held open, to show that stopping waits for it instead of cutting it
(a SQLAlchemy session cancelled mid-transaction may skip its rollback and keep SQLite's write lock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


class HeldRound:
    def __init__(self) -> None:
        self.entered, self.release, self.finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold(self) -> None:
        """Call inside the round: it stays open until released."""
        self.entered.set()
        await self.release.wait()
        self.finished.set()

    async def assert_stop_waits(self, stop: Awaitable[None]) -> None:
        """Once the round is open, ``stop`` does not finish before the round does."""
        await asyncio.wait_for(self.entered.wait(), 10)
        stopping = asyncio.ensure_future(stop)
        await asyncio.sleep(0.1)
        assert not stopping.done()  # waits for the round
        self.release.set()
        await asyncio.wait_for(stopping, 10)
        assert self.finished.is_set()

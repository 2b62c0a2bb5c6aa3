"""Waiting out a database that went away, with one log line per attempt instead of a traceback flood.

A worker's slots all fail at once when PostgreSQL stops. :class:`Outage` is shared by them: the
first failure of a round logs one line (what failed, the attempt number, when the next try is)
and sets the time of the next attempt, doubling from ``first`` up to ``cap``; every slot sleeps
until then. The first success afterwards logs one line that the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError


def is_outage(exc: BaseException) -> bool:
    """The database did not answer or refused the connection (not a bug in a query)."""
    return (
        isinstance(exc, OSError | TimeoutError)
        or (isinstance(exc, SQLAlchemyError) and getattr(exc, "connection_invalidated", False))
        or _driver_connection_error(exc)
    )


def _driver_connection_error(exc: BaseException) -> bool:
    cause = getattr(exc, "orig", None) or exc.__cause__
    if cause is None or cause is exc:
        return False
    name = type(cause).__name__
    return isinstance(cause, OSError | TimeoutError) or name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "InterfaceError",
        "AdminShutdownError",
    }


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = " ".join(str(cause).split())[:160]
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class Outage:
    def __init__(self, logger: Any, event: str, *, first: float = 0.5, cap: float = 30.0) -> None:
        self.logger, self.event = logger, event
        self.first, self.cap = first, cap
        self.attempts = 0
        self._next_try = 0.0

    @property
    def ongoing(self) -> bool:
        return self.attempts > 0

    def delay(self) -> float:
        return float(min(self.cap, self.first * 2.0 ** max(self.attempts - 1, 0)))

    async def wait_after(self, exc: BaseException, stop: asyncio.Event | None = None, **fields: Any) -> None:
        """Log this attempt (once for all slots) and sleep until the next one is due (or ``stop``)."""
        now = time.monotonic()
        if now >= self._next_try:
            self.attempts += 1
            delay = self.delay()
            self._next_try = now + delay
            self.logger.warning(
                self.event, error=_reason(exc), attempt=self.attempts, retry_in_seconds=delay, **fields
            )
        pause = max(0.0, self._next_try - time.monotonic())
        if stop is None:
            await asyncio.sleep(pause)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)

    def recovered(self, **fields: Any) -> None:
        if self.attempts:
            self.logger.info(f"{self.event}_recovered", after_attempts=self.attempts, **fields)
            self.attempts = 0
            self._next_try = 0.0

"""Time, injected. Code asks a :class:`Clock` for "now" so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_timestamp(seconds: int | float | None) -> datetime | None:
    """Stripe sends Unix seconds; the mirror stores aware UTC datetimes."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


class FrozenClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = at or utcnow()

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

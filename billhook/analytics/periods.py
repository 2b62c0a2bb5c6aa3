"""Reporting periods: presets, custom dates, and the buckets of a series.

A period is ``[start, end)`` in UTC. Presets end now: ``30d`` is the last 30 days (from midnight 29
days ago), ``month``, ``quarter`` and ``year`` run from the start of the current calendar month,
quarter or year. A custom period names its first and last day (both included) or exact times.
Buckets are aligned to UTC midnight, Monday, or the first of the month; the first and last may be
partial.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from billhook.analytics.schemas import INTERVALS, Interval, Period
from billhook.errors import InvalidInput

PRESETS = ("30d", "month", "quarter", "year", "custom")
DEFAULT_INTERVAL: dict[str, Interval] = {
    "30d": "day",
    "month": "day",
    "quarter": "week",
    "year": "month",
    "custom": "day",
}
MAX_BUCKETS = 400


class InvalidPeriod(InvalidInput):
    """A period or interval the caller gave cannot be used (422)."""


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _moment(value: str, name: str, *, end: bool) -> datetime:
    """An ISO date (``2026-01-31``: the whole day, so an end date is included) or an ISO datetime."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return _midnight(day + timedelta(days=1)) if end else _midnight(day)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPeriod(f"{name} must be an ISO date like 2026-01-31, not {value!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _preset_start(preset: str, now: datetime) -> datetime:
    today = now.astimezone(UTC).date()
    if preset == "30d":
        return _midnight(today - timedelta(days=29))
    if preset == "month":
        return _midnight(today.replace(day=1))
    if preset == "quarter":
        return _midnight(today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1))
    return _midnight(today.replace(month=1, day=1))


def parse_period(
    preset: str | None, start: str | None, end: str | None, interval: str | None, now: datetime
) -> Period:
    """The period a caller asked for; :class:`InvalidPeriod` (422) with a message saying what to fix.

    Giving ``start`` (and optionally ``end``) without a preset means ``custom``.
    """
    chosen = (preset or ("custom" if start or end else "30d")).strip().lower()
    if chosen not in PRESETS:
        raise InvalidPeriod(f"period must be one of {', '.join(PRESETS)}, not {preset!r}.")
    step = (interval or DEFAULT_INTERVAL[chosen]).strip().lower()
    if step not in INTERVALS:
        raise InvalidPeriod(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}.")
    if chosen == "custom":
        if not start:
            raise InvalidPeriod("A custom period needs a start date (from=YYYY-MM-DD).")
        begins = _moment(start, "from", end=False)
        ends = _moment(end, "to", end=True) if end else now
    else:
        if start or end:
            raise InvalidPeriod(f"from and to go with period=custom, not period={chosen}.")
        begins, ends = _preset_start(chosen, now), now
    if ends <= begins:
        raise InvalidPeriod("The period must end after it starts.")
    period = Period(begins, ends, step)
    if len(bucket_starts(period)) > MAX_BUCKETS:
        raise InvalidPeriod(f"That period has more than {MAX_BUCKETS} {step}s; choose a longer interval.")
    return period


def _next_boundary(moment: datetime, interval: Interval) -> datetime:
    day = moment.date()
    if interval == "day":
        return _midnight(day + timedelta(days=1))
    if interval == "week":
        return _midnight(day + timedelta(days=7 - day.weekday()))
    month = day.month % 12 + 1
    return _midnight(date(day.year + (day.month == 12), month, 1))


def bucket_starts(period: Period) -> list[datetime]:
    """The start of each bucket: the period's start, then every interval boundary inside it."""
    starts = [period.start]
    boundary = _next_boundary(period.start, period.interval)
    while boundary < period.end and len(starts) <= MAX_BUCKETS:
        starts.append(boundary)
        boundary = _next_boundary(boundary, period.interval)
    return starts


def bucket_ends(period: Period) -> list[datetime]:
    return [*bucket_starts(period)[1:], period.end]

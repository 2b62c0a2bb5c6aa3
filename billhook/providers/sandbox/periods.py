"""Billing-period arithmetic and amount formatting.

Monthly and yearly periods follow the calendar from the billing cycle anchor, clamping to the end of
short months the way Stripe does (an anchor on the 31st bills on Feb 28/29, then on Mar 31).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from billhook.kit.formatting import format_date as format_day
from billhook.kit.formatting import format_money

from .config import DAY


def _add_months(anchor: datetime, months: int) -> datetime:
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def boundary(anchor: int, interval: str, count: int, steps: int) -> int:
    """The time ``steps`` periods after ``anchor``."""
    if interval in ("day", "week"):
        return anchor + steps * count * (DAY if interval == "day" else 7 * DAY)
    months = steps * count * (12 if interval == "year" else 1)
    return int(_add_months(datetime.fromtimestamp(anchor, UTC), months).timestamp())


def next_boundary(anchor: int, interval: str, count: int, after: int) -> int:
    """The first period boundary strictly after ``after`` (``after >= anchor``)."""
    steps = 1
    if interval in ("day", "week"):
        step = count * (DAY if interval == "day" else 7 * DAY)
        steps = max(1, (after - anchor) // step + 1)
    while boundary(anchor, interval, count, steps) <= after:
        steps += 1
    return boundary(anchor, interval, count, steps)


def format_amount(amount: int, currency: str) -> str:
    """``$29.00``, ``-€5.00``: Billhook's one money formatter (Stripe's pages look the same)."""
    return format_money(amount, currency)


def format_date(timestamp: int) -> str:
    """``Dec 1, 2026`` (UTC)."""
    return format_day(datetime.fromtimestamp(timestamp, UTC))

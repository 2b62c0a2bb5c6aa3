"""Billing-period arithmetic and amount formatting.

Monthly and yearly periods follow the calendar from the billing cycle anchor, clamping to the end of
short months the way Stripe does (an anchor on the 31st bills on Feb 28/29, then on Mar 31).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from billhook.kit.money import Money

from .config import DAY

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "jpy": "¥"}


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
    money = Money(abs(amount), currency)
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(money.currency)
    if symbol is None:
        return f"{sign}{money.format()}"
    return f"{sign}{symbol}{money.format().rsplit(' ', 1)[0]}"


def format_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%b %-d, %Y")

"""The one formatter for money and dates shown to people: pages, emails, CLI tables, admin.

Built on Babel (CLDR data), so symbols, grouping and sign placement follow the locale instead of
three hand-written variants. Two Billhook rules sit on top of Babel's defaults:

- **Decimals follow Stripe, not CLDR.** Amounts are stored in the currency's minor unit as Stripe
  defines it (https://docs.stripe.com/currencies#zero-decimal and #three-decimal), and CLDR
  disagrees for a few currencies (e.g. ISK, HUF). The number of decimals therefore comes from
  :func:`billhook.kit.money.decimals`, so ``amount_minor`` is always shown exactly.
- **Times are shown in UTC** with the zone written out, because the operator, the customer and
  the server may sit in different zones and Billhook stores every moment in UTC. A naive datetime
  is read as UTC. A calendar date (:func:`format_date`) is the date the value itself carries.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Literal

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.numbers import NumberPattern

from billhook.kit.money import decimals, validate_currency

DEFAULT_LOCALE = "en_US"
DateStyle = Literal["short", "medium", "long", "full"]


@cache
def _currency_pattern(locale: str, places: int) -> tuple[Locale, NumberPattern]:
    """The locale's standard currency pattern with exactly ``places`` decimals."""
    parsed = Locale.parse(locale)
    pattern = copy.copy(parsed.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return parsed, pattern


@lru_cache(maxsize=4096)  # pure, and pages and charts format the same amounts again and again
def format_money(amount_minor: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """``$49.00``, ``¥1,200``, ``€12.50``, ``KWD1.234``, ``-$5.00`` for an integer minor amount.

    Raises ValueError for something that is not a three-letter currency code.
    """
    code = validate_currency(currency)
    places = decimals(code)
    parsed, pattern = _currency_pattern(locale, places)
    value = Decimal(amount_minor).scaleb(-places)
    shown: str = pattern.apply(value, parsed, currency=code.upper(), currency_digits=False)
    return shown


def _as_moment(value: date | datetime | str) -> date | datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_date(
    value: date | datetime | str, style: DateStyle = "medium", locale: str = DEFAULT_LOCALE
) -> str:
    """``Dec 1, 2026`` (``full``: ``Tuesday, December 1, 2026``): the calendar date the value carries.

    A datetime keeps its own offset here (a booking at 00:30 in Paris is on the Paris date);
    ISO strings, as stored in email contexts, are accepted too.
    """
    moment = _as_moment(value)
    return babel_format_date(moment, format=style, locale=locale)


def format_datetime(value: datetime | str, locale: str = DEFAULT_LOCALE) -> str:
    """``2026-12-01 14:30 UTC``: sortable, unambiguous, readable in a table."""
    moment = _as_moment(value)
    if not isinstance(moment, datetime):
        raise TypeError("a date has no time of day")
    utc = _in_utc(moment)
    return f"{babel_format_date(utc, format='yyyy-MM-dd', locale=locale)} {_clock(utc, locale)} UTC"


def format_time(value: datetime | str, locale: str = DEFAULT_LOCALE) -> str:
    """``14:30 UTC+01:00``: the wall-clock time at the offset the datetime carries (naive = UTC).

    For appointments: the customer reads the time where it happens, with the offset written out.
    """
    moment = _as_moment(value)
    if not isinstance(moment, datetime):
        raise TypeError("a date has no time of day")
    offset = moment.utcoffset()
    if offset is None or not offset:
        return f"{_clock(moment, locale)} UTC"
    text = f"{moment:%z}"  # "+0100"
    return f"{_clock(moment, locale)} UTC{text[:3]}:{text[3:5]}"


def _clock(moment: datetime, locale: str) -> str:
    return babel_format_time(moment.replace(tzinfo=None), format="HH:mm", locale=locale)

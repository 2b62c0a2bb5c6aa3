"""The one money/date formatter (billhook/kit/formatting.py): outputs pinned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from billhook.kit.formatting import format_date, format_datetime, format_money, format_time

PARIS_WINTER = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4900, "usd", "$49.00"),
        (4900, "USD", "$49.00"),
        (1250, "eur", "€12.50"),
        (1200, "jpy", "¥1,200"),
        (1234, "kwd", "KWD1.234"),
        (-500, "usd", "-$5.00"),
        (-1200, "jpy", "-¥1,200"),
        (123456789, "usd", "$1,234,567.89"),
        (0, "gbp", "£0.00"),
        (1, "usd", "$0.01"),
    ],
)
def test_format_money_in_en_us(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_format_money_follows_the_locale() -> None:
    assert format_money(123450, "eur", locale="de_DE") == "1.234,50\xa0€"


def test_format_money_uses_stripes_decimals_where_cldr_differs() -> None:
    """Stripe keeps two decimals for ISK in the minor unit (CLDR says zero): 100 is 1.00."""
    assert format_money(100, "isk") == "ISK1.00"


def test_format_money_refuses_a_non_currency() -> None:
    with pytest.raises(ValueError, match="three-letter"):
        format_money(100, "dollars")


def test_format_date_is_the_date_the_value_carries() -> None:
    late_in_paris = datetime(2026, 12, 1, 0, 30, tzinfo=PARIS_WINTER)
    assert format_date(late_in_paris) == "Dec 1, 2026"
    assert format_date(date(2026, 1, 2)) == "Jan 2, 2026"
    assert format_date("2026-12-01T14:30:00+01:00", "full") == "Tuesday, December 1, 2026"


def test_format_datetime_is_utc() -> None:
    assert format_datetime(datetime(2026, 12, 1, 14, 30, tzinfo=PARIS_WINTER)) == "2026-12-01 13:30 UTC"
    assert format_datetime(datetime(2026, 12, 1, 9, 5, tzinfo=UTC)) == "2026-12-01 09:05 UTC"


def test_format_datetime_reads_a_naive_value_as_utc() -> None:
    assert format_datetime(datetime(2026, 12, 1, 9, 5)) == "2026-12-01 09:05 UTC"


def test_format_datetime_refuses_a_date() -> None:
    with pytest.raises(TypeError):
        format_datetime(date(2026, 12, 1))  # type: ignore[arg-type]


def test_format_time_keeps_the_offset() -> None:
    assert format_time(datetime(2026, 12, 1, 14, 30, tzinfo=PARIS_WINTER)) == "14:30 UTC+01:00"
    assert format_time(datetime(2026, 12, 1, 14, 30, tzinfo=UTC)) == "14:30 UTC"

"""The published worked examples, pinned on the pure arithmetic (docs/analytics.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billhook.analytics import definitions as d
from billhook.analytics.periods import InvalidPeriod, bucket_starts, parse_period
from billhook.analytics.schemas import Movements
from billhook.subscriptions.mrr import per_month, round_minor

NOW = datetime(2026, 3, 15, 13, 30, tzinfo=UTC)


def test_revenue_churn_worked_example_is_20_percent_gross_and_10_percent_net() -> None:
    movements = Movements(churn=-1000, contraction=-1000, expansion=1000)
    assert d.gross_revenue_churn_rate(movements, 10_000) == pytest.approx(0.20)
    assert d.net_revenue_churn_rate(movements, 10_000) == pytest.approx(0.10)
    assert d.net_revenue_retention(movements, 10_000) == pytest.approx(0.90)


def test_customer_churn_worked_example_leaves_out_who_joined_in_the_period() -> None:
    assert d.customer_churn_rate(churned=11, churned_joined_in_period=1, customers_at_start=100) == 0.10


def test_a_2000_dollar_yearly_plan_is_166_67_of_mrr() -> None:
    assert round_minor(per_month(200_000, "year")) == 16667


def test_rates_over_nothing_are_unknown_not_zero() -> None:
    assert d.gross_revenue_churn_rate(Movements(), 0) is None
    assert d.customer_churn_rate(0, 0, 0) is None


def test_arr_and_arpu() -> None:
    assert d.arr(16667) == 200_004
    assert d.arpu(10_000, 3) == 3333 and d.arpu(5, 2) == 3 and d.arpu(0, 0) == 0


def test_net_new_mrr_is_the_sum_of_movements() -> None:
    assert Movements(new=500, expansion=100, contraction=-50, churn=-200, reactivation=25).net_new == 375


def test_percentiles_are_nearest_rank_over_a_histogram() -> None:
    counts = {float(n): 1 for n in range(1, 101)}
    assert d.percentile_of_counts(counts, 0.99) == 99.0 and d.median_of_counts(counts) == 50.5
    assert (
        d.median_of_counts({0.2: 3, 0.5: 1}) == 0.2 and d.percentile_of_counts({0.2: 98, 9.0: 2}, 0.99) == 9.0
    )
    assert d.median_of_counts({}) is None and d.percentile_of_counts({}, 0.99) is None


def test_presets_end_now_and_start_at_midnight() -> None:
    assert parse_period("30d", None, None, None, NOW).start == datetime(2026, 2, 14, tzinfo=UTC)
    month = parse_period("month", None, None, None, NOW)
    assert (month.start, month.end, month.interval) == (datetime(2026, 3, 1, tzinfo=UTC), NOW, "day")
    assert parse_period("quarter", None, None, None, NOW).start == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_period("year", None, None, "month", NOW).interval == "month"


def test_a_custom_period_includes_its_last_day() -> None:
    period = parse_period("custom", "2026-01-01", "2026-01-31", "week", NOW)
    assert (period.start, period.end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    # 2026-01-01 is a Thursday: a partial first week, then Mondays
    assert bucket_starts(period)[:3] == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 5, tzinfo=UTC),
        datetime(2026, 1, 12, tzinfo=UTC),
    ]


def test_monthly_buckets_follow_the_calendar() -> None:
    period = parse_period(None, "2025-11-15", "2026-02-10", "month", NOW)
    assert [start.date().isoformat() for start in bucket_starts(period)] == [
        "2025-11-15",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
    ]


@pytest.mark.parametrize(
    ("preset", "start", "end", "interval", "message"),
    [
        ("weekly", None, None, None, "period must be one of"),
        ("30d", None, None, "hour", "interval must be one of"),
        ("custom", None, None, None, "needs a start date"),
        ("custom", "2026-02-01", "2026-01-01", None, "must end after it starts"),
        ("custom", "yesterday", None, None, "ISO date"),
        ("custom", "2020-01-01", "2026-01-01", "day", "choose a longer interval"),
        ("month", "2026-01-01", None, None, "go with period=custom"),
    ],
)
def test_bad_periods_are_refused_with_a_message(
    preset: str, start: str | None, end: str | None, interval: str | None, message: str
) -> None:
    with pytest.raises(InvalidPeriod, match=message) as refused:
        parse_period(preset, start, end, interval, NOW)
    assert refused.value.status_code == 422


def test_a_reporting_total_uses_the_operators_rates_and_each_currencys_decimals() -> None:
    rates = {"eur": Decimal("1.08"), "jpy": Decimal("0.0067")}
    assert d.reporting_total({"usd": 1000, "eur": 1000, "jpy": 1000}, "usd", rates) == 1000 + 1080 + 670
    assert d.reporting_total({"usd": 1000, "gbp": 500}, "usd", rates) is None  # no rate for gbp: no total
    assert d.reporting_total({"usd": 1000, "gbp": 0}, "usd", rates) == 1000

"""The figures analytics hands to its shells (admin pages, API, CLI, /metrics).

Money is always an integer in the currency's minor unit; rates are fractions (0.1 = 10 %) or
``None`` when the denominator is zero. Times are aware UTC; a period is ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Interval = Literal["day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` in aware UTC, bucketed by ``interval`` for series."""

    start: datetime
    end: datetime
    interval: Interval


@dataclass(frozen=True, slots=True)
class Movements:
    """MRR movements over a period; ``churn`` and ``contraction`` are negative."""

    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0
    reactivation: int = 0

    @property
    def net_new(self) -> int:
        return self.new + self.expansion + self.contraction + self.churn + self.reactivation


@dataclass(frozen=True, slots=True)
class PlanConversion:
    """Checkout sessions for one plan opened in the period, and how many of those completed."""

    plan: str
    opened: int
    completed: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.completed, self.opened)


@dataclass(frozen=True, slots=True)
class Recovery:
    """Invoices with at least one failed payment attempt in the period, and those now paid."""

    failed_invoices: int = 0
    recovered_invoices: int = 0
    failed_amount: int = 0
    recovered_amount: int = 0
    median_seconds_to_recover: float | None = None

    @property
    def rate(self) -> float | None:
        return _ratio(self.recovered_invoices, self.failed_invoices)

    @property
    def amount_rate(self) -> float | None:
        return _ratio(self.recovered_amount, self.failed_amount)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of a series: stock figures at the bucket's end, flows within it."""

    start: datetime
    mrr: int
    active_subscriptions: int
    trialing_subscriptions: int
    movements: Movements
    failed_payments: int
    recovered_payments: int
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Overview:
    """Every figure of the admin overview for one currency and one period (see docs/analytics.md)."""

    currency: str
    currencies: tuple[str, ...]
    period: Period
    mrr: int
    arr: int
    committed_mrr: int
    scheduled_churn_mrr: int
    active_subscriptions: int
    trialing_subscriptions: int
    trial_mrr: int
    arpu: int
    movements: Movements
    customer_churn_rate: float | None
    gross_revenue_churn_rate: float | None
    net_revenue_churn_rate: float | None
    net_revenue_retention: float | None
    conversion: tuple[PlanConversion, ...]
    recovery: Recovery
    revenue_by_currency: dict[str, int]
    series: tuple[SeriesPoint, ...]
    paying_customers: int = 0
    mrr_at_start: int = 0
    customers_at_start: int = 0
    churned_customers: int = 0
    # Of ``churned_customers``, those who joined inside the period: not counted in the rate.
    churned_joined_in_period: int = 0
    reporting_currency: str | None = None
    reporting_mrr: int | None = None


@dataclass(frozen=True, slots=True)
class OperationsSummary:
    """Operations health over a period: outbox jobs, payments, webhook latency.

    ``job_success_by_type`` maps a job type to ``(done, finished)``.
    """

    jobs_finished: int
    jobs_dead: int
    job_success_rate: float | None
    job_success_by_type: dict[str, tuple[int, int]]
    payments_attempted: int
    payments_succeeded: int
    payment_success_rate: float | None
    webhook_p50_seconds: float | None
    webhook_p99_seconds: float | None

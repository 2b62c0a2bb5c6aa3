"""The JSON shapes of ``/api/admin/metrics``: every amount an integer in minor units."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from billhook.analytics import schemas


class PeriodOut(BaseModel):
    start: datetime
    end: datetime
    interval: schemas.Interval


class MovementsOut(BaseModel):
    new: int
    expansion: int
    contraction: int
    churn: int
    reactivation: int
    net_new: int

    @classmethod
    def of(cls, movements: schemas.Movements) -> MovementsOut:
        return cls(
            new=movements.new,
            expansion=movements.expansion,
            contraction=movements.contraction,
            churn=movements.churn,
            reactivation=movements.reactivation,
            net_new=movements.net_new,
        )


class ConversionOut(BaseModel):
    plan: str
    opened: int
    completed: int
    rate: float | None


class RecoveryOut(BaseModel):
    failed_invoices: int
    recovered_invoices: int
    failed_amount: int
    recovered_amount: int
    rate: float | None
    amount_rate: float | None
    median_seconds_to_recover: float | None


class SeriesPointOut(BaseModel):
    start: datetime
    end: datetime | None
    mrr: int
    active_subscriptions: int
    trialing_subscriptions: int
    movements: MovementsOut
    failed_payments: int
    recovered_payments: int


class ReportingOut(BaseModel):
    """MRR converted to the operator's reporting currency with the rates they configured."""

    currency: str
    mrr: int
    rates: dict[str, str]

    @classmethod
    def of(cls, figures: schemas.Overview, rates: Mapping[str, Decimal]) -> ReportingOut | None:
        """The overview's reporting MRR, if it has one (rates configured, and one for each currency)."""
        if figures.reporting_currency is None or figures.reporting_mrr is None:
            return None
        shown = {code: str(rate) for code, rate in rates.items()}
        return cls(currency=figures.reporting_currency, mrr=figures.reporting_mrr, rates=shown)


class MetricsOut(BaseModel):
    currency: str
    currencies: list[str]
    period: PeriodOut
    mrr: int
    arr: int
    committed_mrr: int
    scheduled_churn_mrr: int
    active_subscriptions: int
    trialing_subscriptions: int
    trial_mrr: int
    arpu: int
    paying_customers: int
    movements: MovementsOut
    mrr_at_start: int
    customers_at_start: int
    churned_customers: int
    churned_joined_in_period: int
    customer_churn_rate: float | None
    gross_revenue_churn_rate: float | None
    net_revenue_churn_rate: float | None
    net_revenue_retention: float | None
    conversion: list[ConversionOut]
    recovery: RecoveryOut
    revenue_by_currency: dict[str, int]
    series: list[SeriesPointOut]
    reporting: ReportingOut | None = None

    @classmethod
    def of(cls, figures: schemas.Overview, reporting: ReportingOut | None = None) -> MetricsOut:
        recovery = figures.recovery
        return cls(
            currency=figures.currency,
            currencies=list(figures.currencies),
            period=PeriodOut(
                start=figures.period.start, end=figures.period.end, interval=figures.period.interval
            ),
            mrr=figures.mrr,
            arr=figures.arr,
            committed_mrr=figures.committed_mrr,
            scheduled_churn_mrr=figures.scheduled_churn_mrr,
            active_subscriptions=figures.active_subscriptions,
            trialing_subscriptions=figures.trialing_subscriptions,
            trial_mrr=figures.trial_mrr,
            arpu=figures.arpu,
            paying_customers=figures.paying_customers,
            movements=MovementsOut.of(figures.movements),
            mrr_at_start=figures.mrr_at_start,
            customers_at_start=figures.customers_at_start,
            churned_customers=figures.churned_customers,
            churned_joined_in_period=figures.churned_joined_in_period,
            customer_churn_rate=figures.customer_churn_rate,
            gross_revenue_churn_rate=figures.gross_revenue_churn_rate,
            net_revenue_churn_rate=figures.net_revenue_churn_rate,
            net_revenue_retention=figures.net_revenue_retention,
            conversion=[
                ConversionOut(plan=c.plan, opened=c.opened, completed=c.completed, rate=c.rate)
                for c in figures.conversion
            ],
            recovery=RecoveryOut(
                failed_invoices=recovery.failed_invoices,
                recovered_invoices=recovery.recovered_invoices,
                failed_amount=recovery.failed_amount,
                recovered_amount=recovery.recovered_amount,
                rate=recovery.rate,
                amount_rate=recovery.amount_rate,
                median_seconds_to_recover=recovery.median_seconds_to_recover,
            ),
            revenue_by_currency=figures.revenue_by_currency,
            series=[
                SeriesPointOut(
                    start=p.start,
                    end=p.end,
                    mrr=p.mrr,
                    active_subscriptions=p.active_subscriptions,
                    trialing_subscriptions=p.trialing_subscriptions,
                    movements=MovementsOut.of(p.movements),
                    failed_payments=p.failed_payments,
                    recovered_payments=p.recovered_payments,
                )
                for p in figures.series
            ],
            reporting=reporting,
        )


class OperationsOut(BaseModel):
    period: PeriodOut
    jobs_finished: int
    jobs_dead: int
    job_success_rate: float | None
    job_success_by_type: dict[str, tuple[int, int]]
    payments_attempted: int
    payments_succeeded: int
    payment_success_rate: float | None
    webhook_p50_seconds: float | None
    webhook_p99_seconds: float | None

"""``GET /api/admin/metrics`` (JSON), ``/api/admin/metrics.csv`` (the series) and
``/api/admin/metrics/operations``: admins only, 404 for any other signed-in user.

Query: ``period`` (30d, month, quarter, year, custom), ``from``/``to`` (ISO dates, the last day
included), ``interval`` (day, week, month), ``currency``. Money in integer minor units.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from billhook.accounts.deps import AdminOnly
from billhook.analytics import service
from billhook.analytics.api_schemas import MetricsOut, OperationsOut, PeriodOut, ReportingOut
from billhook.analytics.schemas import Overview, Period
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.runtime import Runtime

router = APIRouter(tags=["analytics"])

PeriodQuery = Annotated[str | None, Query(description="30d, month, quarter, year or custom", max_length=20)]
FromQuery = Annotated[str | None, Query(alias="from", description="first day, YYYY-MM-DD", max_length=40)]
ToQuery = Annotated[
    str | None, Query(alias="to", description="last day (included), YYYY-MM-DD", max_length=40)
]
IntervalQuery = Annotated[str | None, Query(description="day, week or month", max_length=20)]
CurrencyQuery = Annotated[
    str | None,
    Query(description="ISO code; default: the currency with the most MRR", pattern="^[A-Za-z]{3}$"),
]

CSV_COLUMNS = (
    "start", "end", "currency", "mrr", "active_subscriptions", "trialing_subscriptions", "new", "expansion",
    "contraction", "churn", "reactivation", "net_new", "failed_payments", "recovered_payments",
)  # fmt: skip


def requested_period(
    runtime: RuntimeDep,
    period: PeriodQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    interval: IntervalQuery = None,
) -> Period:
    """The period from the query; 422 with what to fix when it cannot be used."""
    return service.parse_period(period, start, end, interval, runtime.clock.now())


PeriodDep = Annotated[Period, Depends(requested_period)]


async def _overview(
    session: SessionDep, runtime: Runtime, period: Period, currency: str | None
) -> tuple[Overview, ReportingOut | None]:
    settings = runtime.settings
    rates = settings.billhook_reporting_rates
    figures = await service.cached_overview(
        session, runtime.cache, period, currency=currency, now=runtime.clock.now(),
        rates=rates, reporting_currency=settings.billhook_reporting_currency,
    )  # fmt: skip
    return figures, ReportingOut.of(figures, rates)


@router.get("/api/admin/metrics", response_model=MetricsOut)
async def metrics(
    session: SessionDep,
    runtime: RuntimeDep,
    _: AdminOnly,
    chosen: PeriodDep,
    currency: CurrencyQuery = None,
) -> MetricsOut:
    """The overview figures for one currency and period (definitions: docs/analytics.md).

    From the overview cache (service.cached_overview): at most 30 s old, the page's and CSV's too.
    """
    figures, reporting = await _overview(session, runtime, chosen, currency)
    return MetricsOut.of(figures, reporting)


def series_csv(figures: Overview) -> str:
    """The series as CSV, one row per bucket, the same numbers as the JSON's ``series``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for point in figures.series:
        m = point.movements
        end = point.end or figures.period.end
        movements = [m.new, m.expansion, m.contraction, m.churn, m.reactivation, m.net_new]
        writer.writerow([
            point.start.isoformat(), end.isoformat(), figures.currency, point.mrr, point.active_subscriptions,
            point.trialing_subscriptions, *movements, point.failed_payments, point.recovered_payments,
        ])  # fmt: skip
    return out.getvalue()


@router.get("/api/admin/metrics.csv", response_class=Response)
async def metrics_csv(
    session: SessionDep, runtime: RuntimeDep, _: AdminOnly, chosen: PeriodDep, currency: CurrencyQuery = None
) -> Response:
    """The series of ``/api/admin/metrics`` as CSV."""
    figures, _reporting = await _overview(session, runtime, chosen, currency)
    name = f"billhook-metrics-{figures.currency}-{chosen.start.date()}-{chosen.end.date()}.csv"
    return Response(
        series_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/api/admin/metrics/operations", response_model=OperationsOut)
async def operations(session: SessionDep, _: AdminOnly, chosen: PeriodDep) -> OperationsOut:
    """Job success rate per type and overall, payment success rate, webhook p50/p99 latency."""
    figures = await service.operations(session, chosen)
    return OperationsOut(
        period=PeriodOut(start=chosen.start, end=chosen.end, interval=chosen.interval),
        jobs_finished=figures.jobs_finished,
        jobs_dead=figures.jobs_dead,
        job_success_rate=figures.job_success_rate,
        job_success_by_type=figures.job_success_by_type,
        payments_attempted=figures.payments_attempted,
        payments_succeeded=figures.payments_succeeded,
        payment_success_rate=figures.payment_success_rate,
        webhook_p50_seconds=figures.webhook_p50_seconds,
        webhook_p99_seconds=figures.webhook_p99_seconds,
    )

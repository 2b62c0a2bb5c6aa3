"""The overview and operations figures, composed from the repository's queries.

Read-only: nothing here writes or commits. Every figure is defined in docs/analytics.md.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.analytics import definitions as d
from billhook.analytics import repository as repo
from billhook.analytics.periods import bucket_ends, bucket_starts, parse_period
from billhook.analytics.schemas import (
    Movements,
    OperationsSummary,
    Overview,
    Period,
    PlanConversion,
    Recovery,
    SeriesPoint,
)
from billhook.cache import BillhookCache
from billhook.errors import InvalidInput
from billhook.kit.money import validate_currency

__all__ = ["cached_overview", "operations", "overview", "parse_period", "reporting_mrr"]

DEFAULT_CURRENCY = "usd"
# The overview is cached this long: figures are at most 30 s old (the bound is a minute).
OVERVIEW_CACHE_TTL_SECONDS = 30.0
OVERVIEW_CACHE_NAMESPACE = "analytics-overview"


def _valid_currency(asked: str) -> str:
    try:
        return validate_currency(asked)
    except ValueError:
        raise InvalidInput(f"currency must be a three-letter code such as usd, not {asked!r}.") from None


def _choose_currency(stocks: dict[str, repo.Stock], others: Sequence[str], asked: str | None) -> str:
    """The asked currency, else the one with the most MRR, else one seen anywhere, else usd."""
    if asked:
        return _valid_currency(asked)
    if any(stock.mrr for stock in stocks.values()):
        return max(sorted(stocks), key=lambda code: stocks[code].mrr)
    return DEFAULT_CURRENCY if DEFAULT_CURRENCY in others or not others else sorted(others)[0]


def _stock_before(stock: repo.Stock, flows: Sequence[repo.Flow]) -> tuple[int, int, int, int]:
    """(mrr, active, trialing, customers) before ``flows``: the stock less what they changed."""
    return (
        stock.mrr - sum(flow.mrr for flow in flows),
        stock.active - sum(flow.active for flow in flows),
        stock.trialing - sum(flow.trialing for flow in flows),
        stock.paying_customers - sum(flow.customers for flow in flows),
    )


def _recovery(invoices: Sequence[repo.FailedInvoice], currency: str) -> Recovery:
    mine = [invoice for invoice in invoices if invoice.currency == currency]
    recovered = [invoice for invoice in mine if invoice.paid_at is not None]
    # Both ends on the provider's clock: under a Stripe test clock Billhook's row times are not.
    waits = [
        (invoice.paid_at - invoice.first_attempt).total_seconds()
        for invoice in recovered
        if invoice.paid_at is not None
    ]
    return Recovery(
        failed_invoices=len(mine),
        recovered_invoices=len(recovered),
        failed_amount=sum(invoice.amount for invoice in mine),
        recovered_amount=sum(invoice.amount for invoice in recovered),
        median_seconds_to_recover=statistics.median(waits) if waits else None,
    )


def _series(
    period: Period,
    stock: repo.Stock,
    flows: Sequence[repo.Flow],
    invoices: Sequence[repo.FailedInvoice],
    currency: str,
) -> tuple[SeriesPoint, ...]:
    starts, ends = bucket_starts(period), bucket_ends(period)
    points = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        mrr, active, trialing, _ = _stock_before(stock, flows[index + 1 :])
        mine = [invoice for invoice in invoices if invoice.currency == currency]
        points.append(
            SeriesPoint(
                start=start,
                end=end,
                mrr=mrr,
                active_subscriptions=active,
                trialing_subscriptions=trialing,
                movements=d.movements_from(flows[index].by_kind),
                failed_payments=sum(1 for invoice in mine if start <= invoice.first_attempt < end),
                recovered_payments=sum(
                    1 for invoice in mine if invoice.paid_at and start <= invoice.paid_at < end
                ),
            )
        )
    return tuple(points)


def _period_movements(flows: Sequence[repo.Flow]) -> Movements:
    totals: dict[str, int] = {}
    for flow in flows:
        for kind, amount in flow.by_kind.items():
            totals[kind] = totals.get(kind, 0) + amount
    return d.movements_from(totals)


async def overview(session: AsyncSession, period: Period, *, currency: str | None, now: datetime) -> Overview:
    """Every overview figure for one currency over ``period``; stock figures are at its end.

    Trial MRR, committed MRR and scheduled churn have no history: they are the mirror's now.
    """
    stocks = await repo.stock_by_currency(session)
    revenue = await repo.revenue_by_currency(session, period.start, period.end)
    seen = sorted(set(stocks) | set(revenue))
    chosen = _choose_currency(stocks, seen, currency)
    stock = stocks.get(chosen, repo.Stock())
    flows = await repo.ledger_flows(session, chosen, period.start, bucket_ends(period))
    in_period, after = flows[:-1], flows[-1:]
    mrr, active, trialing, customers = _stock_before(stock, after)
    mrr_at_start, _, _, customers_at_start = _stock_before(stock, flows)
    movements = _period_movements(in_period)
    churned, churned_new = await repo.churned_customers(session, chosen, period.start, period.end)
    invoices = await repo.failed_invoices(session, period.start, period.end)
    conversion = await repo.conversion_by_plan(session, period.start, period.end)
    return Overview(
        currency=chosen,
        currencies=tuple(seen) if chosen in seen else (*seen, chosen),
        period=period,
        mrr=mrr,
        arr=d.arr(mrr),
        committed_mrr=stock.mrr - stock.scheduled_churn_mrr,
        scheduled_churn_mrr=stock.scheduled_churn_mrr,
        active_subscriptions=active,
        trialing_subscriptions=trialing,
        trial_mrr=stock.trial_mrr,
        arpu=d.arpu(mrr, customers),
        movements=movements,
        customer_churn_rate=d.customer_churn_rate(churned, churned_new, customers_at_start),
        gross_revenue_churn_rate=d.gross_revenue_churn_rate(movements, mrr_at_start),
        net_revenue_churn_rate=d.net_revenue_churn_rate(movements, mrr_at_start),
        net_revenue_retention=d.net_revenue_retention(movements, mrr_at_start),
        conversion=tuple(PlanConversion(plan, opened, done) for plan, opened, done in conversion),
        recovery=_recovery(invoices, chosen),
        revenue_by_currency=revenue,
        series=_series(period, stock, flows, invoices, chosen),
        paying_customers=customers,
        mrr_at_start=mrr_at_start,
        customers_at_start=customers_at_start,
        churned_customers=churned,
        churned_joined_in_period=churned_new,
    )


def overview_cache_key(
    period: Period, currency: str | None, now: datetime, reporting: str = "none"
) -> tuple[str, ...]:
    """The cache key of an overview: its period, interval, asked currency and reporting currency.

    A period that ends ``now`` (the presets, or a custom one without an end) is keyed as ending
    "now", so that repeated requests find it; its figures are then up to the TTL old.
    """
    end = "now" if period.end == now else period.end.isoformat()
    start = period.start.isoformat()
    return (OVERVIEW_CACHE_NAMESPACE, start, end, period.interval, currency or "default", reporting)


async def cached_overview(
    session: AsyncSession,
    cache: BillhookCache | None,
    period: Period,
    *,
    currency: str | None,
    now: datetime,
    rates: Mapping[str, Decimal] | None = None,
    reporting_currency: str | None = None,
) -> Overview:
    """:func:`overview`, with the MRR of every currency in ``reporting_currency`` when the operator
    gave ``rates``; from ``cache`` when computed less than OVERVIEW_CACHE_TTL_SECONDS ago.

    The one cache of the admin page, ``GET /api/admin/metrics``, its CSV and ``billhook
    analytics``: a dashboard's refreshes cost one computation, and figures are at most 30 s old.
    Bad input (an unknown currency) is refused before anything is cached. ``cache=None`` computes.
    """
    asked = _valid_currency(currency) if currency else None
    reporting = "none"
    if rates and reporting_currency:
        pairs = (f"{code}={rate}" for code, rate in sorted(rates.items()))
        reporting = ",".join([reporting_currency, *pairs])
    key = overview_cache_key(period, asked, now, reporting)
    if cache is not None and isinstance(cached := await cache.get(*key), Overview):
        return cached
    figures = await overview(session, period, currency=asked, now=now)
    if rates and reporting_currency:
        total = await reporting_mrr(session, period.end, currency=reporting_currency, rates=rates)
        figures = replace(figures, reporting_currency=reporting_currency, reporting_mrr=total)
    if cache is not None:
        await cache.set(*key, value=figures, ttl_seconds=OVERVIEW_CACHE_TTL_SECONDS)
    return figures


async def reporting_mrr(
    session: AsyncSession, at: datetime, *, currency: str, rates: Mapping[str, Decimal]
) -> int | None:
    """All currencies' MRR at ``at`` in the reporting ``currency``, with the operator's ``rates``
    only (never looked up); ``None`` when a currency with MRR has no rate."""
    stocks = await repo.stock_by_currency(session)
    later = await repo.mrr_changes_since(session, at)
    amounts = {code: stocks.get(code, repo.Stock()).mrr - later.get(code, 0) for code in {*stocks, *later}}
    return d.reporting_total(amounts, currency, rates)


async def operations(session: AsyncSession, period: Period) -> OperationsSummary:
    """Outbox job success (done ÷ finished; dead is failed), payment success, webhook latency."""
    jobs = await repo.jobs_by_type(session, period.start, period.end)
    done = sum(ok for ok, _ in jobs.values())
    finished = sum(total for _, total in jobs.values())
    attempted, succeeded = await repo.payment_attempts(session, period.start, period.end)
    p50, p99 = await repo.webhook_latency(session, period.start, period.end)
    return OperationsSummary(
        jobs_finished=finished,
        jobs_dead=finished - done,
        job_success_rate=done / finished if finished else None,
        job_success_by_type=jobs,
        payments_attempted=attempted,
        payments_succeeded=succeeded,
        payment_success_rate=succeeded / attempted if attempted else None,
        webhook_p50_seconds=p50,
        webhook_p99_seconds=p99,
    )

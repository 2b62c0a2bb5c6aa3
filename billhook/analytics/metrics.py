"""Prometheus gauges of revenue and subscriptions, refreshed when ``/metrics`` is scraped.

The figures come from one grouped scan of the subscription mirror, at most every
:data:`REFRESH_SECONDS` (a scrape in between serves the last values), so a scrape never costs more
than that query and the gauges are fresh within a minute of a change. Nothing is queried on import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.analytics import repository as repo
from billhook.runtime import Runtime

REFRESH_SECONDS = 30.0

MRR = Gauge(
    "billhook_mrr_minor_units",
    "MRR per currency in minor units: active and past_due subscriptions, monthly, after discounts.",
    ["currency"],
)
TRIAL_MRR = Gauge(
    "billhook_trial_mrr_minor_units", "Monthly amount of trialing subscriptions (not in MRR).", ["currency"]
)
PLAN_MRR = Gauge(
    "billhook_plan_mrr_minor_units", "MRR per plan and currency in minor units.", ["plan", "currency"]
)
SUBSCRIPTIONS = Gauge(
    "billhook_subscriptions", "Mirrored subscriptions by plan and status.", ["plan", "status"]
)


@dataclass
class GaugeRefresh:
    """When the gauges were last set (monotonic seconds); one per process."""

    at: float | None = None

    def due(self, now: float) -> bool:
        return self.at is None or now - self.at >= REFRESH_SECONDS


LAST = GaugeRefresh()


async def refresh_gauges(session: AsyncSession, *, force: bool = False) -> bool:
    """Set every gauge from the mirror if the last refresh is older than REFRESH_SECONDS."""
    now = time.monotonic()
    if not force and not LAST.due(now):
        return False
    rows = await repo.subscriptions_by_plan_and_status(session)
    mrr: dict[str, int] = {}
    trial: dict[str, int] = {}
    plan_mrr: dict[tuple[str, str], int] = {}
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row.plan, row.status] = counts.get((row.plan, row.status), 0) + row.subscriptions
        if not row.currency:
            continue
        if row.status in repo.PAYING_STATUSES:
            mrr[row.currency] = mrr.get(row.currency, 0) + row.mrr
            plan_mrr[row.plan, row.currency] = plan_mrr.get((row.plan, row.currency), 0) + row.mrr
        elif row.status in repo.TRIALING_STATUSES:
            trial[row.currency] = trial.get(row.currency, 0) + row.mrr
    for gauge in (MRR, TRIAL_MRR, PLAN_MRR, SUBSCRIPTIONS):
        gauge.clear()  # a plan or status that is gone must not keep its last value
    for currency, amount in mrr.items():
        MRR.labels(currency).set(amount)
    for currency, amount in trial.items():
        TRIAL_MRR.labels(currency).set(amount)
    for (plan, currency), amount in plan_mrr.items():
        PLAN_MRR.labels(plan, currency).set(amount)
    for (plan, status), count in counts.items():
        SUBSCRIPTIONS.labels(plan, status).set(count)
    LAST.at = now
    return True


async def refresh_on_scrape(runtime: Runtime) -> bool:
    """The ``/metrics`` hook (``app.state.metrics_refreshers``): refresh in a session of its own."""
    async with runtime.session_factory() as session:
        return await refresh_gauges(session)

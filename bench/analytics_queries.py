"""Analytics query benchmark on PostgreSQL: each metrics query's time at scale, uncached.

    .venv/bin/python -m bench.analytics_queries [--runs 7] [--scale 1.0] [--timeout 600]

Creates a scratch database on ``BILLHOOK_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), migrates it, and seeds it with bulk
``INSERT … SELECT generate_series`` (at scale 1: 100,000 customers, 120,000 subscriptions and their
MRR ledger rows, 1,000,000 payments, 400,000 invoices, 150,000 checkout sessions, 300,000 outbox jobs
and 300,000 inbox events, spread over two years), then VACUUM ANALYZEs it. Each query of
``billhook.analytics`` runs ``--runs`` times for three periods (30 days by day, a quarter by week, a
year by month); the median and the slowest run are reported. Billhook's cache is not used (the
database's own buffer cache is warm, as in production). The database is dropped at the end; the
whole run is bounded by ``--timeout``. Writes its figures under the "Analytics queries" heading of
``bench/RESULTS.md``, leaving other sections alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from bench.postgres import ADMIN_URL
from bench.postgres import admin as _admin
from bench.results import write_section
from billhook.analytics import repository as repo
from billhook.analytics import service
from billhook.analytics.periods import bucket_ends, parse_period
from billhook.analytics.schemas import Period
from billhook.db import create_engine, create_session_factory, migrate

HEADING = "## Analytics queries"

# {n}: row count; every row's time is within two years before now(). Plain SQL, run once each.
SEED = [
    """INSERT INTO customers (id, stripe_id, email, deleted, raw, created_at, updated_at)
       SELECT 'cus_' || g, 'cus_s' || g, 'c' || g || '@example.com', false, '{{}}', now(), now()
       FROM generate_series(1, {customers}) g""",
    # 80 % usd, 20 % eur; 20 % canceled, 2 % trialing, 1 % past_due, the rest active;
    # every 10th set to cancel at period end.
    """INSERT INTO subscriptions (id, stripe_id, customer_id, product_id, price_stripe_id, status, quantity,
         cancel_at_period_end, ended_at, raw, currency, mrr, created_at, updated_at)
       SELECT 'sub_' || g, 'sub_s' || g, 'cus_' || (1 + (g - 1) % {customers}), 'plan_' || (g % 6),
         'price_' || (g % 6),
         CASE WHEN g % 10 < 2 THEN 'canceled' WHEN g % 50 = 2 THEN 'trialing'
              WHEN g % 100 = 3 THEN 'past_due' ELSE 'active' END,
         1, g % 10 = 5, CASE WHEN g % 10 < 2 THEN now() - (g % 300) * interval '1 day' END, '{{}}',
         CASE WHEN g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         (1 + g % 5) * 1000 + (CASE WHEN g % 7 = 0 THEN 1000 ELSE 0 END),
         now() - (g % 730) * interval '1 day', now()
       FROM generate_series(1, {subscriptions}) g""",
    # Ledger: a start for every subscription, an expansion for every 7th, an end for the canceled.
    """INSERT INTO mrr_ledger (id, subscription_id, customer_id, currency, effective_at, kind, plan,
         state_before, state_after, amount, mrr_before, mrr_after, customer_mrr_before, customer_mrr_after,
         recorded_at)
       SELECT 'mrr_a' || s.g, 'sub_' || s.g, 'cus_' || (1 + (s.g - 1) % {customers}),
         CASE WHEN s.g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         now() - (s.g % 730) * interval '1 day', CASE WHEN s.g > {customers} THEN 'expansion' ELSE 'new' END,
         'plan_' || (s.g % 6), 'none', 'paying', s.m, 0, s.m,
         CASE WHEN s.g > {customers} THEN 1000 ELSE 0 END,
         s.m + CASE WHEN s.g > {customers} THEN 1000 ELSE 0 END,
         now()
       FROM (SELECT g, (1 + g % 5) * 1000 AS m FROM generate_series(1, {subscriptions}) g) s""",
    """INSERT INTO mrr_ledger (id, subscription_id, customer_id, currency, effective_at, kind, plan,
         state_before, state_after, amount, mrr_before, mrr_after, customer_mrr_before, customer_mrr_after,
         recorded_at)
       SELECT 'mrr_b' || g, 'sub_' || g, 'cus_' || (1 + (g - 1) % {customers}),
         CASE WHEN g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         now() - (g % 730) * interval '1 day' + interval '30 days', 'expansion', 'plan_' || (g % 6), 'paying',
         'paying', (1 + g % 5) * 1000 + 1000, (1 + g % 5) * 1000, (1 + g % 5) * 1000 + 1000,
         (1 + g % 5) * 1000,
         (1 + g % 5) * 1000 + 1000, now()
       FROM generate_series(7, {subscriptions}, 7) g WHERE g % 730 >= 30""",
    """INSERT INTO mrr_ledger (id, subscription_id, customer_id, currency, effective_at, kind, plan,
         state_before, state_after, amount, mrr_before, mrr_after, customer_mrr_before, customer_mrr_after,
         recorded_at)
       SELECT 'mrr_c' || g, 'sub_' || g, 'cus_' || (1 + (g - 1) % {customers}),
         CASE WHEN g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         now() - (g % 300) * interval '1 day', 'churn', 'plan_' || (g % 6), 'paying', 'ended',
         (1 + g % 5) * 1000, (1 + g % 5) * 1000, 0, (1 + g % 5) * 1000, 0, now()
       FROM generate_series(1, {subscriptions}) g WHERE g % 10 < 2 AND g % 730 > g % 300""",
    # Invoices: 1 in 25 had a failed attempt; of those 60 % were paid later.
    """INSERT INTO invoices (id, stripe_id, customer_id, subscription_id, status, currency, amount_due,
         amount_paid, amount_remaining, attempt_count, paid_at, raw, created_at, updated_at)
       SELECT 'inv_' || g, 'in_s' || g, 'cus_' || (1 + g % {customers}), 'sub_' || (1 + g % {subscriptions}),
         CASE WHEN g % 25 = 0 AND g % 5 < 2 THEN 'open' ELSE 'paid' END, 'usd', 2900, 2900, 0,
         CASE WHEN g % 25 = 0 THEN 3 ELSE 1 END,
         now() - (g % 730) * interval '1 day' + (g % 5) * interval '1 hour', '{{}}',
         now() - (g % 730) * interval '1 day' - (g % 1440) * interval '1 minute', now()
       FROM generate_series(1, {invoices}) g""",
    # Payments: 94 % succeeded, 5 % failed, 1 % refunded; 1 in 2.5 tied to an invoice.
    """INSERT INTO payments (id, customer_id, invoice_id, amount, amount_refunded, currency, status, disputed,
         raw, created_at, updated_at)
       SELECT 'pay_' || g, 'cus_' || (1 + g % {customers}),
         CASE WHEN g % 5 < 2 THEN 'inv_' || (1 + g % {invoices}) END, 1000 + g % 9000,
         CASE WHEN g % 100 = 7 THEN 1000 ELSE 0 END,
         CASE WHEN g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         CASE WHEN g % 100 < 5 THEN 'FAILED' WHEN g % 100 = 7 THEN 'PARTIALLY_REFUNDED' ELSE 'SUCCEEDED' END,
         false, '{{}}', now() - (g % 730) * interval '1 day' - (g % 86400) * interval '1 second', now()
       FROM generate_series(1, {payments}) g""",
    """INSERT INTO refunds (id, stripe_id, payment_id, amount, currency, status, raw, created_at, updated_at)
       SELECT 'ref_' || g, 're_s' || g, 'pay_' || g, 1000, CASE WHEN g % 5 = 0 THEN 'eur' ELSE 'usd' END,
         'succeeded', '{{}}', now() - (g % 730) * interval '1 day', now()
       FROM generate_series(7, {payments}, 100) g""",
    """INSERT INTO checkout_sessions (id, stripe_id, product_id, quantity, mode, status, completed_at, raw,
         created_at, updated_at)
       SELECT 'chk_' || g, 'cs_s' || g, 'plan_' || (g % 6), 1, 'subscription',
         CASE WHEN g % 3 = 0 THEN 'expired' ELSE 'complete' END,
         CASE WHEN g % 3 = 0 THEN NULL ELSE now() - (g % 730) * interval '1 day' END, '{{}}',
         now() - (g % 730) * interval '1 day', now()
       FROM generate_series(1, {checkouts}) g""",
    """INSERT INTO outbox_jobs (id, key, type, payload, status, attempts, max_attempts, run_after,
         finished_at, created_at, updated_at)
       SELECT 'job_' || g, 'k' || g, 'type_' || (g % 8), '{{}}',
         CASE WHEN g % 500 = 0 THEN 'dead' ELSE 'done' END,
         1, 5, now(), now() - (g % 730) * interval '1 day', now(), now()
       FROM generate_series(1, {jobs}) g""",
    """INSERT INTO inbox_events (id, event_id, type, payload, status, attempts, next_attempt_at, received_at,
         processed_at, livemode, source)
       SELECT 'ie_' || g, 'evt_s' || g, 'invoice.paid', '{{}}', 'processed', 1, now(),
         now() - (g % 730) * interval '1 day',
         now() - (g % 730) * interval '1 day' + (g % 2000) * interval '1 millisecond', false, 'webhook'
       FROM generate_series(1, {events}) g""",
]


def _sizes(scale: float) -> dict[str, int]:
    base = {
        "customers": 100_000, "subscriptions": 120_000, "payments": 1_000_000, "invoices": 400_000,
        "checkouts": 150_000, "jobs": 300_000, "events": 300_000,
    }  # fmt: skip
    return {name: max(100, int(count * scale)) for name, count in base.items()}


async def seed(url: str, sizes: dict[str, int]) -> dict[str, int]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        for statement in SEED:
            await connection.execute(statement.format(**sizes))
        await connection.execute("VACUUM ANALYZE")  # what autovacuum keeps up: visibility map and statistics
        counts = {}
        for table in ("customers", "subscriptions", "mrr_ledger", "payments", "invoices", "checkout_sessions",
                      "outbox_jobs", "inbox_events"):  # fmt: skip
            counts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        return counts
    finally:
        await connection.close()


Query = Callable[[AsyncSession, Period], Awaitable[Any]]
QUERIES: dict[str, Query] = {
    "stock (mirror, by currency)": lambda s, _p: repo.stock_by_currency(s),
    "ledger flows (series + movements)": lambda s, p: repo.ledger_flows(s, "usd", p.start, bucket_ends(p)),
    "churned customers": lambda s, p: repo.churned_customers(s, "usd", p.start, p.end),
    "checkout conversion by plan": lambda s, p: repo.conversion_by_plan(s, p.start, p.end),
    "failed invoices / recovery": lambda s, p: repo.failed_invoices(s, p.start, p.end),
    "revenue by currency": lambda s, p: repo.revenue_by_currency(s, p.start, p.end),
    "job success by type": lambda s, p: repo.jobs_by_type(s, p.start, p.end),
    "payment success": lambda s, p: repo.payment_attempts(s, p.start, p.end),
    "webhook p50/p99": lambda s, p: repo.webhook_latency(s, p.start, p.end),
    "gauges (plan x status)": lambda s, _p: repo.subscriptions_by_plan_and_status(s),
    "reporting MRR (all currencies)": lambda s, p: repo.mrr_changes_since(s, p.end),
    "whole overview()": lambda s, p: service.overview(s, p, currency="usd", now=p.end),
    "whole operations()": service.operations,
}


async def measure(url: str, runs: int) -> dict[str, dict[str, tuple[float, float]]]:
    now = datetime.now(UTC)
    today = now.date()
    periods = {
        "30 days / day": parse_period("30d", None, None, "day", now),
        "91 days / week": parse_period("custom", str(today - timedelta(days=91)), None, "week", now),
        "365 days / month": parse_period("custom", str(today - timedelta(days=365)), None, "month", now),
    }
    engine = create_engine(url)
    factory = create_session_factory(engine)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    try:
        for name, query in QUERIES.items():
            results[name] = {}
            for label, period in periods.items():
                times = []
                for _ in range(runs + 1):  # the first run warms the connection and plan; not counted
                    async with factory() as session:
                        started = time.perf_counter()
                        await query(session, period)
                        times.append((time.perf_counter() - started) * 1000)
                results[name][label] = (statistics.median(times[1:]), max(times[1:]))
    finally:
        await engine.dispose()
    return results


async def run(runs: int, scale: float) -> str:
    name = f"billhook_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    url = base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    try:
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        started = time.perf_counter()
        counts = await seed(f"{base}/{name}", _sizes(scale))
        seeded = time.perf_counter() - started
        results = await measure(url, runs)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _section(counts, seeded, results, runs)


def _section(
    counts: dict[str, int], seeded: float, results: dict[str, dict[str, tuple[float, float]]], runs: int
) -> str:
    labels = list(next(iter(results.values())))
    rows = [
        f"| {name} | "
        + " | ".join(f"{median:.1f} ({worst:.1f})" for median, worst in by_period.values())
        + " |"
        for name, by_period in results.items()
    ]
    return "\n".join([
        HEADING, "",
        f"`python -m bench.analytics_queries` on {datetime.now(UTC):%Y-%m-%d}: PostgreSQL at 127.0.0.1, "
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}. Seeded in "
        f"{seeded:.0f} s: " + ", ".join(f"{count:,} {table}" for table, count in counts.items()) + ". "
        f"Milliseconds per query, median (slowest) of {runs} runs after one warm-up, "
        "Billhook's cache unused. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (shared machine). Target: under 200 ms each.", "",
        "| query | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
        *rows, "",
        "Each row is one query as `billhook.analytics` sends it; `overview()` runs eight queries one after "
        "another (the page, the API, the CSV and the CLI share one 30 s cache of it, "
        "`service.cached_overview`; timed here uncached), `operations()` three. Work grows with the period "
        "for payments, jobs and webhook events (a year here is about 500,000 payments aggregated by a "
        "parallel index-only scan); the stock figures and gauges read the 120,000 subscriptions whatever the "
        "period. On a shared machine the load average inflates every figure: compare runs by their load.", "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query and period")
    parser.add_argument("--scale", type=float, default=1.0, help="row counts x this (1.0: the issue's sizes)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for the whole run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    section = asyncio.run(asyncio.wait_for(run(max(args.runs, 1), args.scale), args.timeout))
    if not args.no_write:
        write_section(HEADING, section)
    print(section)


if __name__ == "__main__":
    main()

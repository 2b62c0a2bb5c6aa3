"""Admin console benchmark on PostgreSQL: customer search, list pages and whole pages, uncached
(and the overview page also from its 30 s cache).

    .venv/bin/python -m bench.admin_pages [--runs 7] [--scale 1.0] [--timeout 900] [--no-write]

Seeds a scratch database exactly as ``bench/analytics_queries.py`` does (at scale 1: 100,000
customers, 120,000 subscriptions and their ledger, 1,000,000 payments, 400,000 invoices, ...), then
times the console's own queries (:mod:`billhook.admin.repository`) and whole pages served over HTTP
(ASGI, an admin's bearer token, Jinja2 and the pygal charts included). Targets from issue 16:
customer search under 100 ms, the overview page under 500 ms. Writes its figures under the
"Admin console" heading of ``bench/RESULTS.md``, leaving other sections alone.
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
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from bench.analytics_queries import _sizes, seed
from bench.postgres import ADMIN_URL
from bench.postgres import admin as _admin
from bench.results import write_section
from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import account_policy
from billhook.accounts.service import Accounts
from billhook.accounts.tokens import TokenSigner
from billhook.admin import repository
from billhook.admin.filters import ListFilter, decode_cursor, encode_cursor
from billhook.admin.pages import router as admin_router
from billhook.cache import build_cache
from billhook.config import load_settings
from billhook.db import create_engine, migrate
from billhook.http.errors import install_error_handlers
from billhook.models import User
from billhook.runtime import Runtime

HEADING = "## Admin console"
NOTES = (
    "Notes: lists page by keyset on (created_at, id) over a created_at index (migration 0004: payments, "
    "subscriptions, invoices; payments.customer_id for the customer page), so first and deep pages are "
    "index range reads. An uncached overview page is the analytics queries (see below) and its four pygal "
    "charts; the page shares one 30 s cache with the API, the CSV and the CLI "
    "(`billhook.analytics.service.cached_overview`), so within 30 s of a first view a refresh costs the "
    "charts and the template only, and figures are at most 30 s old."
)
EVERYTHING = ListFilter()
# A cursor halfway down the payments (seeded over two years): a deep page, as keyset pages cost.
MIDDLE = decode_cursor(encode_cursor(datetime(2025, 12, 6, tzinfo=UTC), "pay_zzz"))

Read = Callable[[AsyncSession], Awaitable[Any]]


def queries(n: int) -> dict[str, Read]:
    """The console's reads, aimed at customer ``n`` (one in the middle of the seeded ids)."""
    return {
        f"search: email prefix (c{n}@)": lambda s: repository.search_customers(s, f"c{n}@", None),
        f"search: text in name or email ({n})": lambda s: repository.search_customers(s, str(n), None),
        f"search: provider id (cus_s{n})": lambda s: repository.search_customers(s, f"cus_s{n}", None),
        "customers: first page": lambda s: repository.search_customers(s, "", None),
        "payments: first page": lambda s: repository.payments(s, EVERYTHING, None),
        "payments: a page a year deep": lambda s: repository.payments(s, EVERYTHING, MIDDLE),
        "payments: FAILED in eur": lambda s: repository.payments(
            s, ListFilter(status="FAILED", currency="eur"), None
        ),
        "subscriptions: first page": lambda s: repository.subscriptions(s, EVERYTHING, None),
        "subscriptions: plan_3, past_due": lambda s: repository.subscriptions(
            s, ListFilter(status="past_due", plan="plan_3"), None
        ),
        "invoices: first page": lambda s: repository.invoices(s, EVERYTHING, None),
        f"customer page (cus_{n})": lambda s: repository.customer_view(s, f"cus_{n}"),
        "operations lists": repository.operations_lists,
    }


OVERVIEW = "overview page"
CACHED = ", from the 30 s cache"


def pages(n: int) -> dict[str, str]:
    """Overview pages are timed uncached (the cache is emptied before each run) and cached."""
    return {
        f"{OVERVIEW} (30 days by day)": "/admin",
        f"{OVERVIEW} (a year by month)": "/admin?period=year&interval=month",
        f"{OVERVIEW} (30 days by day){CACHED}": "/admin",
        f"{OVERVIEW} (a year by month){CACHED}": "/admin?period=year&interval=month",
        "customer search page": f"/admin/customers?q=c{n}%40",
        "customer page": f"/admin/customers/cus_{n}",
        "payments page": "/admin/payments",
        "operations page": "/admin/operations",
    }


def _timed(times: list[float]) -> tuple[float, float]:
    return statistics.median(times[1:]), max(times[1:])  # the first run warms up; not counted


async def measure_queries(runtime: Runtime, runs: int, n: int) -> dict[str, tuple[float, float]]:
    results = {}
    for name, read in queries(n).items():
        times = []
        for _ in range(runs + 1):
            async with runtime.session_factory() as session:
                started = time.perf_counter()
                await read(session)
                times.append((time.perf_counter() - started) * 1000)
        results[name] = _timed(times)
    return results


async def admin_token(runtime: Runtime) -> str:
    settings = runtime.settings
    async with runtime.session_factory() as session:
        user = User(email=f"bench-{secrets.token_hex(3)}@example.com", role="admin")
        session.add(user)
        await session.flush()
        accounts = Accounts(
            session, TokenSigner(settings.secret_key), settings.secret_key, account_policy(settings),
            Passwords.for_tests(),
        )  # fmt: skip
        token = accounts.issue_session(user, datetime.now(UTC)).token
        await session.commit()
    return token


async def measure_pages(runtime: Runtime, runs: int, n: int) -> dict[str, tuple[float, float]]:
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(admin_router)
    headers = {"Authorization": f"Bearer {await admin_token(runtime)}"}
    results = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        for name, path in pages(n).items():
            times = []
            for _ in range(runs + 1):
                if name.startswith(OVERVIEW) and not name.endswith(CACHED) and runtime.cache is not None:
                    await runtime.cache.backend.delete_match("billhook:v1:analytics-overview:*")
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
            results[name] = _timed(times)
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
        sizes = _sizes(scale)
        counts = await seed(f"{base}/{name}", sizes)
        middle = sizes["customers"] // 2 + 1
        seeded = time.perf_counter() - started
        settings = load_settings(
            env_file=None, database_url=url, billhook_env="test", billhook_secret_key="bench-" + "x" * 40,
            billhook_auto_migrate=False, billhook_embedded_worker=False,
        )  # fmt: skip
        runtime = Runtime.build(settings)
        runtime.cache = build_cache(settings)
        try:
            timed_queries = await measure_queries(runtime, runs, middle)
            timed_pages = await measure_pages(runtime, runs, middle)
        finally:
            await runtime.cache.aclose()
            await runtime.aclose()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _section(counts, seeded, timed_queries, timed_pages, runs)


def _rows(results: dict[str, tuple[float, float]]) -> list[str]:
    return [f"| {name} | {median:.1f} | {worst:.1f} |" for name, (median, worst) in results.items()]


def _section(
    counts: dict[str, int],
    seeded: float,
    timed_queries: dict[str, tuple[float, float]],
    timed_pages: dict[str, tuple[float, float]],
    runs: int,
) -> str:
    return "\n".join([
        HEADING, "",
        f"`python -m bench.admin_pages` on {datetime.now(UTC):%Y-%m-%d}: PostgreSQL at 127.0.0.1, "
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}. Seeded in "
        f"{seeded:.0f} s as for the analytics queries: "
        + ", ".join(f"{count:,} {table}" for table, count in counts.items()) + ". "
        f"Milliseconds, median and slowest of {runs} runs after one warm-up, nothing cached except "
        "where a row says so. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (shared machine). "
        "Targets: customer search under 100 ms, the overview page under 500 ms.", "",
        "| console query | median | slowest |", "|---|---:|---:|", *_rows(timed_queries), "",
        "| whole page over HTTP (ASGI) | median | slowest |", "|---|---:|---:|", *_rows(timed_pages), "",
        NOTES, "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query and page")
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

"""Drain benchmark: how fast ``billhook worker`` applies a burst of provider events on PostgreSQL.

    .venv/bin/python -m bench.drain [--signups 120] [--latencies 0,100] [--workers 1,2,4]
                                    [--concurrency 4] [--rounds 3] [--timeout 180] [--write]

* The stand-in Stripe API is the offline sandbox served by uvicorn in a **separate process**,
  every API request held ``latency`` ms before it is answered (0 and 100 by default).
* A realistic mix is made there first (hosted-checkout sign-ups; subscriptions updated and
  canceled; one-off payments succeeded, declined, refunded and disputed; a subscription whose first
  invoice fails), and every event it produced is listed.
* For each latency and worker count: a scratch database, ``workers`` processes each running what
  ``billhook worker --concurrency N`` runs (inbox and outbox; a live key, so the limiter is at
  Stripe's live defaults: 100 requests/s, 25 per endpoint), then the whole burst stored in one
  transaction (as the receiver would have acknowledged it), timed until every event is applied and
  every outbox job it caused has run.

Reported per run: events/s (stored -> last applied), provider requests per event (counted by the
stand-in), SQL statements per event (counted in the workers through SQLAlchemy's cursor events,
outbox jobs included; pg_stat_statements is not preloaded here), transactions per event (from
``pg_stat_database``, the benchmark's own polling subtracted), worker CPU per event (``/proc``) and
p99 from stored (acknowledged) to applied. ``--write`` puts the table under "Drain" in RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import stripe
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import event

from bench.postgres import ADMIN_URL
from bench.postgres import admin as _admin
from bench.results import write_section
from billhook.bootstrap import build_runtime
from billhook.cli.worker import _serve
from billhook.config import load_settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.kit.clock import utcnow
from billhook.kit.heap import settle_heap
from billhook.logging import configure_logging
from billhook.providers.sandbox import Sandbox, SandboxConfig
from billhook.providers.stripe import StripeProvider
from billhook.providers.stripe.limits import RateLimits

ROOT = Path(__file__).resolve().parents[1]
LIVE_KEY = "sk_live_bench"
TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
POLL_MARK = "/* bench-poll */"
TICKS = os.sysconf("SC_CLK_TCK")


# -- the stand-in Stripe API (its own process) ---------------------------------------------------


def serve_stand_in(port: int, database: str) -> None:
    """The sandbox under /sandbox with a per-request delay and a request counter."""
    base = f"http://127.0.0.1:{port}/sandbox"
    sandbox = Sandbox(SandboxConfig(database_url=database, public_url=base, test_key_prefix="sk_"))
    state: dict[str, Any] = {"latency": 0.0, "reads": 0, "requests": 0}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        yield
        await sandbox.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.middleware("http")
    async def delay(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/sandbox/v1/"):
            state["requests"] += 1
            if request.method == "GET" and not request.url.path.startswith("/sandbox/v1/events"):
                state["reads"] += 1
            if state["latency"]:
                await asyncio.sleep(state["latency"])
        response: Response = await call_next(request)
        return response

    @app.post("/bench/reset")
    async def reset(latency_ms: float = 0.0) -> JSONResponse:
        state.update(latency=latency_ms / 1000, reads=0, requests=0)
        return JSONResponse(state)

    @app.get("/bench/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(state)

    app.mount("/sandbox", sandbox.app)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- a worker process: ``billhook worker`` with statement counters ------------------------------


def serve_worker(concurrency: int, counts_path: str) -> None:
    """What ``billhook worker`` runs, plus SQLAlchemy cursor counters written on SIGUSR1."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = build_runtime(settings, workers=False, embed_sandbox=False)
    counts = {"statements": 0, "marks": 0}

    def count(*_args: Any) -> None:
        counts["statements"] += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)

    def mark(*_args: Any) -> None:
        counts["marks"] += 1
        Path(f"{counts_path}.{counts['marks']}").write_text(json.dumps(counts))

    signal.signal(signal.SIGUSR1, mark)
    settle_heap()
    asyncio.run(_serve(runtime, concurrency, 10.0))


# -- the scenario -----------------------------------------------------------------------------------


async def make_scenario(api: str, signups: int) -> list[dict[str, Any]]:
    """Events of a realistic mix, made in the stand-in; returns them oldest first."""
    provider = StripeProvider(LIVE_KEY, api, limits=RateLimits.unlimited())
    v1 = provider.client.v1
    try:
        product = await v1.products.create_async(params={"name": "Plan"})
        price = await v1.prices.create_async(
            params={
                "product": product.id,
                "unit_amount": 900,
                "currency": "usd",
                "recurring": {"interval": "month"},
            }
        )
        async with httpx.AsyncClient(timeout=30) as http:
            for n in range(signups):
                await _sign_up(v1, http, price.id, n)
        events: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await provider.list_events(starting_after=cursor)
            events.extend(event.raw for event in page.events)
            if not page.has_more:
                break
            cursor = page.events[-1].id
        return list(reversed(events))
    finally:
        await provider.aclose()


async def _sign_up(v1: Any, http: httpx.AsyncClient, price: str, n: int) -> None:
    email = f"c{n}@example.com"
    if n % 10 == 5:  # the first invoice fails: invoice.payment_failed, an incomplete subscription
        customer = await v1.customers.create_async(params={"email": email})
        card = await v1.payment_methods.attach_async(
            "pm_card_chargeCustomerFail", params={"customer": customer.id}
        )
        await v1.subscriptions.create_async(
            params={"customer": customer.id, "items": [{"price": price}], "default_payment_method": card.id}
        )
        return
    session = await v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/no",
            "customer_email": email,
        }
    )
    page = await http.get(session.url)
    match = TOKEN.search(page.text)
    assert match is not None, "the hosted checkout has no form"
    form = {"form_token": match.group(1), "card_number": "4242424242424242", "exp": "12/34", "cvc": "123"}
    await http.post(f"{session.url}/pay", data=form)
    done = await v1.checkout.sessions.retrieve_async(session.id)
    sub_id = done.subscription if isinstance(done.subscription, str) else done.subscription.id
    customer_id = done.customer if isinstance(done.customer, str) else done.customer.id
    if n % 5 == 1:
        await v1.subscriptions.cancel_async(sub_id)
    elif n % 5 == 2:
        await v1.subscriptions.update_async(sub_id, params={"cancel_at_period_end": True})
    elif n % 5 in (3, 4) or n % 10 == 0:
        token = {3: "pm_card_visa", 4: "pm_card_chargeDeclined"}.get(n % 5, "pm_card_createDispute")
        try:
            intent = await v1.payment_intents.create_async(
                params={"amount": 2500, "currency": "usd", "customer": customer_id,
                        "payment_method": token, "confirm": True}
            )  # fmt: skip
        except stripe.StripeError:  # declined: its events are what we want
            return
        if n % 5 == 3:
            await v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1000})


# -- one run ------------------------------------------------------------------------------------------


@dataclass
class Run:
    latency_ms: int
    workers: int
    events: int
    seconds: float
    drained_seconds: float
    reads: int
    statements: int
    transactions: int
    cpu_seconds: float
    p99_ms: float
    jobs: int
    unapplied: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def _scratch_database() -> tuple[str, str]:
    name = f"billhook_bench_drain_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return name, url


async def _started(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    """Wait for "worker … running" in each worker's output (it has claimed nothing yet)."""
    deadline = time.monotonic() + 60
    while not all("running" in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            raise RuntimeError(
                "a worker did not start: " + " | ".join(log.read_text()[-500:] for log in logs)
            )
        await asyncio.sleep(0.1)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _store_burst(url: str, events: list[dict[str, Any]]) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with create_session_factory(engine)() as session:
            now = utcnow()
            await insert_events(
                session, [Incoming(read_envelope(e), e, "webhook", None, now) for e in events]
            )
            await session.commit()
    finally:
        await engine.dispose()


class Poller:
    """The benchmark's own reads of the scratch database, counted so they can be subtracted."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.transactions = 0

    async def value(self, sql: str) -> Any:
        self.transactions += 1
        return await self.connection.fetchval(f"{POLL_MARK} {sql}")

    async def xacts(self, name: str) -> int:
        total = await self.value(
            f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{name}'"
        )
        return int(total)


async def one_run(
    stand_in: str,
    events: list[dict[str, Any]],
    latency_ms: int,
    workers: int,
    concurrency: int,
    deadline_s: float,
) -> Run:
    name, url = await _scratch_database()
    tmp = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "STRIPE_SECRET_KEY": LIVE_KEY,
        "STRIPE_API_BASE": f"{stand_in}/sandbox",
        "BILLHOOK_INBOX_RECONCILE_INTERVAL": "0",
        "BILLHOOK_AUTO_MIGRATE": "false",
        "BILLHOOK_SECRET_KEY": "bench-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
    }
    logs = [tmp / f"w{n}.log" for n in range(workers)]
    processes = [
        subprocess.Popen(  # noqa: ASYNC220 (workers for the whole run)
            [sys.executable, "-m", "bench.drain", "worker", str(concurrency), str(tmp / f"w{n}")],
            cwd=tmp,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        for n, log in enumerate(logs)
    ]
    connection = await asyncpg.connect(url)
    poller = Poller(connection)
    try:
        await _started(processes, logs)
        async with httpx.AsyncClient() as http:
            await http.post(f"{stand_in}/bench/reset", params={"latency_ms": latency_ms})
            for process in processes:
                process.send_signal(signal.SIGUSR1)
            await asyncio.sleep(1.0)  # let PostgreSQL's statistics settle before the first reading
            xacts_before = await poller.xacts(name)
            cpu_before = sum(_cpu(p.pid) for p in processes)
            started = time.monotonic()
            await _store_burst(url, events)
            applied_at, drained_at = None, None
            while time.monotonic() - started < deadline_s:
                left = await poller.value("SELECT count(*) FROM inbox_events WHERE status <> 'processed'")
                if applied_at is None and left == 0:
                    applied_at = time.monotonic()
                busy = await poller.value(
                    "SELECT count(*) FROM outbox_jobs WHERE status IN ('pending', 'running')"
                )
                if left == 0 and busy == 0:
                    drained_at = time.monotonic()
                    break
                await asyncio.sleep(0.1)
            cpu = sum(_cpu(p.pid) for p in processes) - cpu_before
            for process in processes:
                process.send_signal(signal.SIGUSR1)
            stats = (await http.get(f"{stand_in}/bench/stats")).json()
        await asyncio.sleep(1.0)
        xacts = await poller.xacts(name) - xacts_before - (poller.transactions - 1)
        statements = 0
        for n in range(workers):
            marks = [
                json.loads((tmp / f"w{n}.{i}").read_text()) for i in (1, 2) if (tmp / f"w{n}.{i}").exists()
            ]
            if len(marks) == 2:
                statements += marks[1]["statements"] - marks[0]["statements"]
        lags = await connection.fetch(
            f"{POLL_MARK} SELECT extract(epoch FROM processed_at - received_at) * 1000 AS ms "
            "FROM inbox_events WHERE processed_at IS NOT NULL"
        )
        unapplied = await connection.fetchval("SELECT count(*) FROM inbox_events WHERE status <> 'processed'")
        jobs = await connection.fetchval("SELECT count(*) FROM outbox_jobs")
        end = time.monotonic()
        return Run(
            latency_ms=latency_ms,
            workers=workers,
            events=len(events),
            seconds=(applied_at or end) - started,
            drained_seconds=(drained_at or end) - started,
            reads=int(stats["requests"]),
            statements=statements,
            transactions=xacts,
            cpu_seconds=cpu,
            p99_ms=_p99([float(row["ms"]) for row in lags]),
            jobs=int(jobs),
            unapplied=int(unapplied),
        )
    finally:
        await connection.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[98]


# -- the whole benchmark ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(args: argparse.Namespace) -> tuple[list[Run], dict[str, int]]:
    port = _free_port()
    stand_in = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-standin-"))
    database = f"sqlite+aiosqlite:///{tmp / 'sandbox.db'}"
    server = subprocess.Popen(  # noqa: ASYNC220 (the stand-in for the whole benchmark)
        [sys.executable, "-m", "bench.drain", "stand-in", str(port), database],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f"{stand_in}/bench/stats")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        events = await make_scenario(f"{stand_in}/sandbox", args.signups)
        mix: dict[str, int] = {}
        for event in events:
            mix[event["type"]] = mix.get(event["type"], 0) + 1
        print(f"{len(events)} events from {args.signups} sign-ups", file=sys.stderr)
        runs = []
        for _ in range(args.rounds):  # every setting once per round: drift hits all alike
            for latency in args.latencies:
                for workers in args.workers:
                    result = await one_run(stand_in, events, latency, workers, args.concurrency, args.timeout)
                    print(_row(result), file=sys.stderr)
                    runs.append(result)
        return runs, mix
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)


HEADER = (
    "| latency | workers | events | events/s | drained s | provider requests/event | SQL statements/event "
    "| transactions/event | outbox jobs/event | worker CPU ms/event | p99 stored→applied ms |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
)


def _row(run: Run) -> str:
    n = run.events or 1
    return (
        f"| {run.latency_ms} ms | {run.workers} | {run.events} | {run.rate:,.0f} | {run.drained_seconds:.1f} "
        f"| {run.reads / n:.2f} | {run.statements / n:.1f} | {run.transactions / n:.2f} | {run.jobs / n:.2f} "
        f"| {run.cpu_seconds * 1000 / n:.1f} | {run.p99_ms:,.0f} |"
        + (f" ({run.unapplied} not applied)" if run.unapplied else "")
    )


def median_runs(runs: list[Run]) -> list[tuple[Run, list[Run]]]:
    """Per setting (latency, workers), in first-seen order: the run with the median events/s (the
    lower middle of an even count) and all of the setting's runs, round by round."""
    settings: dict[tuple[int, int], list[Run]] = {}
    for one in runs:
        settings.setdefault((one.latency_ms, one.workers), []).append(one)
    chosen = []
    for rounds in settings.values():
        ranked = sorted(rounds, key=lambda one: one.rate)
        chosen.append((ranked[(len(ranked) - 1) // 2], rounds))
    return chosen


def section(runs: list[Run], mix: dict[str, int], args: argparse.Namespace) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    types = ", ".join(f"{kind} {count}" for kind, count in sorted(mix.items(), key=lambda kv: -kv[1]))
    load = os.getloadavg()[0]
    rows = "\n".join(
        _row(median) + " " + ", ".join(f"{one.rate:,.0f}" for one in rounds) + " |"
        for median, rounds in median_runs(runs)
    )
    return (
        "## Drain\n\n"
        f"`python -m bench.drain` on {when}: PostgreSQL at 127.0.0.1, {os.cpu_count()} CPUs "
        f"({platform.machine()}), Python {platform.python_version()}. Each worker is one process running "
        f"what `billhook worker --concurrency {args.concurrency}` runs (inbox and outbox), with a live key, "
        "so the client-side limiter is at Stripe's live defaults (100 requests/s, 25 per endpoint). The "
        "stand-in Stripe API is the sandbox in a separate process, each request held for the latency shown. "
        f"Burst: {sum(mix.values())} events from {args.signups} sign-ups, stored in one transaction "
        f"({types}). "
        "events/s is stored → last applied; drained s also waits for every outbox job the events caused. "
        "Statements are counted in the workers (SQLAlchemy cursor events, outbox included); transactions "
        "from pg_stat_database. "
        f"{args.rounds} rounds, every setting once per round in turn; each row is the setting's round "
        "with the median events/s, the last column its events/s in every round. "
        f"Load average at the end: {load:.1f} (shared machine).\n\n"
        f"{HEADER[0]} events/s by round |\n{HEADER[1]}---|\n{rows}\n"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "stand-in":
        serve_stand_in(int(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        serve_worker(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signups", type=int, default=120)
    parser.add_argument("--latencies", type=lambda s: [int(x) for x in s.split(",")], default=[0, 100])
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record the table in bench/RESULTS.md")
    args = parser.parse_args()
    runs, mix = asyncio.run(run(args))
    text = section(runs, mix, args)
    print(text)
    if args.write:
        write_section("## Drain", text)


if __name__ == "__main__":
    main()

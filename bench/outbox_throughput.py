"""Outbox benchmark on PostgreSQL: no-op jobs/s with 1, 2 and 4 workers; latency; claim time by size.

    .venv/bin/python -m bench.outbox_throughput [--jobs 3000] [--rounds 5] [--concurrency 4]
                                                [--timeout 120] [--claim-sizes 10000,100000,1000000]

Each worker is its own process running ``OutboxWorker`` (LISTEN/NOTIFY wake-up plus a 0.5 s
poll), as ``billhook worker`` does. The worker counts take turns within each round and each row
is the median of the rounds (the machine's speed drifts; compare within one run). Then the
commit-to-start latency of an idle worker, and the claim time at each table size
(:mod:`bench.outbox_claim`). Runs in scratch databases that are created and dropped; PostgreSQL
is read from ``BILLHOOK_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Writes its figures under the "Outbox" heading of ``bench/RESULTS.md``, leaving other sections alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text

from bench import outbox_claim
from bench.postgres import ADMIN_URL
from bench.postgres import admin as _admin
from bench.results import write_section
from billhook.config import load_settings
from billhook.db import create_engine, create_session_factory
from billhook.kit.clock import utcnow
from billhook.logging import configure_logging
from billhook.models import AuditEntry, JobStatus, OutboxJob
from billhook.outbox import JobContext, enqueue
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime

NOOP, STAMP = "bench.noop", "bench.stamp"


async def _noop(_ctx: JobContext) -> None:
    return None


async def _stamp(ctx: JobContext) -> None:
    """Record when the handler started, to measure commit-to-start latency."""
    ctx.session.add(AuditEntry(action="bench", actor="bench", subject_type="job", subject_id=ctx.key,
                               occurred_at=utcnow()))  # fmt: skip


async def serve(url: str, concurrency: int) -> None:
    """A worker process: what ``billhook worker`` runs, with the benchmark's job types."""
    settings = load_settings(
        env_file=None, database_url=url, log_level="WARNING", billhook_auto_migrate=False
    )
    configure_logging("WARNING")
    runtime = Runtime.build(settings)
    runtime.jobs.register(NOOP, _noop)
    runtime.jobs.register(STAMP, _stamp)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = OutboxWorker(runtime, concurrency=concurrency, grace=5)
    await worker.start()
    print("ready", flush=True)
    await stop.wait()
    await worker.aclose()
    await runtime.aclose()


ROOT = Path(__file__).resolve().parents[1]


def _spawn(url: str, count: int, concurrency: int, root: Path = ROOT) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(root), "LOG_LEVEL": "WARNING"}
    workers = [
        subprocess.Popen([sys.executable, "-m", "bench.outbox_throughput", "--serve", url,
                          "--concurrency", str(concurrency)],
                         cwd=root, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
        for _ in range(count)
    ]  # fmt: skip
    for worker in workers:
        if worker.stdout is None or worker.stdout.readline().strip() != "ready":
            _stop(workers)
            raise RuntimeError("a worker process failed to start")
    return workers


def _stop(workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)


async def _wait_done(session_factory: object, total: int, limit: float) -> float:
    started = time.perf_counter()
    while True:
        async with session_factory() as session:  # type: ignore[operator]
            statement = select(func.count()).select_from(OutboxJob).where(OutboxJob.status == JobStatus.DONE)
            done = int((await session.execute(statement)).scalar_one())
        if done >= total:
            return time.perf_counter() - started
        if time.perf_counter() - started > limit:
            async with session_factory() as session:  # type: ignore[operator]
                stuck = (
                    await session.execute(select(OutboxJob).where(OutboxJob.status != JobStatus.DONE))
                ).scalars()
                details = [
                    (j.id, j.status, j.attempts, j.locked_by, j.locked_until, j.last_error) for j in stuck
                ]
            raise TimeoutError(f"only {done}/{total} jobs done after {limit:.0f} s; not done: {details[:5]}")
        await asyncio.sleep(0.02)


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run: jobs/s, and CPU per job in the worker processes and their PostgreSQL backends."""

    rate: float
    worker_cpu_ms: float
    database_cpu_ms: float


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of these processes so far (Linux ``/proc``; 0 for one that is gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def _backends(session_factory: object) -> list[int]:
    """The PostgreSQL backend processes of the workers (every other client of this database)."""
    async with session_factory() as session:  # type: ignore[operator]
        query = text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return list((await session.execute(query)).scalars())


async def throughput(
    url: str, workers: int, jobs: int, concurrency: int, limit: float, root: Path = ROOT
) -> Run:
    engine = create_engine(url, pool_size=1)
    session_factory = create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.execute(delete(OutboxJob))
    processes = _spawn(url, workers, concurrency, root)
    try:
        backends = await _backends(session_factory)
        now = utcnow()
        rows = [{"id": f"job_bench_{n:06d}", "key": f"bench:{n}", "type": NOOP, "payload": {},
                 "status": "pending", "attempts": 0, "max_attempts": 5, "run_after": now,
                 "created_at": now, "updated_at": now} for n in range(jobs)]  # fmt: skip
        pids = [process.pid for process in processes]
        cpu_before = _cpu_seconds(pids), _cpu_seconds(backends)
        async with session_factory() as session:
            await session.execute(insert(OutboxJob), rows)
            await session.commit()
        elapsed = await _wait_done(session_factory, jobs, limit)
        backends = sorted({*backends, *await _backends(session_factory)})  # pools grow under load
        cpu_after = _cpu_seconds(pids), _cpu_seconds(backends)
    finally:
        _stop(processes)
        await engine.dispose()
    per_job = [(after - before) * 1000 / jobs for before, after in zip(cpu_before, cpu_after, strict=True)]
    return Run(jobs / elapsed, per_job[0], per_job[1])


async def latency(url: str, samples: int, concurrency: int, limit: float) -> tuple[float, float]:
    """One idle worker; jobs committed one at a time, 20 ms apart (an idle-ish production queue)."""
    engine = create_engine(url)
    session_factory = create_session_factory(engine)
    processes = _spawn(url, 1, concurrency)
    committed: dict[str, datetime] = {}
    try:
        for n in range(samples):
            async with session_factory() as session:
                await enqueue(session, STAMP, {}, key=f"stamp:{n}")
                await session.commit()
            committed[f"stamp:{n}"] = datetime.now(UTC)
            await asyncio.sleep(0.02)
        async with session_factory() as session:
            total = int((await session.execute(select(func.count()).select_from(OutboxJob))).scalar_one())
        await _wait_done(session_factory, total, limit)
        async with session_factory() as session:
            stamps = (await session.execute(select(AuditEntry.subject_id, AuditEntry.occurred_at))).all()
    finally:
        _stop(processes)
        await engine.dispose()
    waits = sorted((started - committed[key]).total_seconds() * 1000 for key, started in stamps)
    return statistics.median(waits), waits[min(len(waits) - 1, int(len(waits) * 0.99))]


def _scratch_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


def _migrate_with(root: Path, url: str) -> None:
    """Migrate with the code of ``root``: a baseline keeps its own schema."""
    script = "import asyncio, sys; from billhook.db import create_engine, migrate; " \
             "asyncio.run(migrate.upgrade(create_engine(sys.argv[1])))"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", script, url], cwd=root, env=env, check=True, timeout=120)


async def run(
    jobs: int, rounds: int, concurrency: int, limit: float, baseline: Path | None
) -> tuple[dict[str, list[Run]], tuple[float, float]]:
    """Jobs/s by worker count (and of one baseline worker), one entry per round; then the latency."""
    names = {
        "current": f"billhook_bench_{secrets.token_hex(4)}",
        "baseline": f"billhook_bench_{secrets.token_hex(4)}",
    }
    runs: dict[str, tuple[str, int, Path]] = {"1": ("current", 1, ROOT)}
    if baseline is not None:
        runs["1, baseline"] = ("baseline", 1, baseline)
    runs |= {"2": ("current", 2, ROOT), "4": ("current", 4, ROOT)}
    rates: dict[str, list[Run]] = {label: [] for label in runs}
    try:
        for database, name in names.items():
            if database == "current" or baseline is not None:
                await _admin(f'CREATE DATABASE "{name}"')
                _migrate_with(ROOT if database == "current" else baseline or ROOT, _scratch_url(name))
        for _round in range(rounds):
            for label, (database, count, root) in runs.items():
                url = _scratch_url(names[database])
                rates[label].append(await throughput(url, count, jobs, concurrency, limit, root))
        latencies = await latency(_scratch_url(names["current"]), 200, concurrency, limit)
    finally:
        for name in names.values():
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rates, latencies


def _row(label: str, runs: list[Run]) -> str:
    """Medians over the rounds; CPU is summed over the worker processes (or their backends)."""
    rate = statistics.median(run.rate for run in runs)
    worker = statistics.median(run.worker_cpu_ms for run in runs)
    database = statistics.median(run.database_cpu_ms for run in runs)
    rounds = ", ".join(f"{run.rate:,.0f}" for run in runs)
    return f"| {label} | {rate:,.0f} | {worker:.2f} | {database:.2f} | {rounds} |"


def _comparison(rates: dict[str, list[Run]]) -> list[str]:
    """Ratios within each round (the machine drifts between rounds), and the CPU bound of one worker."""
    one = rates["1"]
    worker_ms = statistics.median(run.worker_cpu_ms for run in one)
    database_ms = statistics.median(run.database_cpu_ms for run in one)
    ceiling = min(1000 / worker_ms, 2000 / (worker_ms + database_ms))
    lines = [
        f"CPU bound of one worker: its process spends {worker_ms:.2f} ms of CPU per job and PostgreSQL "
        f"{database_ms:.2f} ms, so with the 2 cores to themselves (the worker on one) they could run about "
        f"{ceiling:,.0f} jobs/s. The best round: {max(run.rate for run in one):,.0f} jobs/s.", "",
    ]  # fmt: skip
    if "1, baseline" in rates:
        ratios = [run.rate / base.rate for run, base in zip(one, rates["1, baseline"], strict=True)]
        lines[-1:-1] = [
            f"One worker against the baseline's, same round: "
            f"{', '.join(f'x{ratio:.2f}' for ratio in ratios)}; median x{statistics.median(ratios):.2f}."
        ]
    return lines


def _section(
    rates: dict[str, list[Run]],
    latencies: tuple[float, float],
    claims: list[outbox_claim.ClaimTiming],
    claim_count: int,
    jobs: int,
    concurrency: int,
    baseline_name: str,
) -> str:
    p50, p99 = latencies
    rounds = len(rates["1"])
    lines = [
        "## Outbox", "",
        f"`python -m bench.outbox_throughput` on {datetime.now(UTC):%Y-%m-%d}: PostgreSQL at 127.0.0.1, "
        f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}. "
        f"Each worker is one process with {concurrency} slots; {jobs} no-op jobs committed at once, "
        f"timed until all are done; {rounds} rounds, the worker counts taking turns within each round, "
        f"each row the median round. The baseline, if any, is the same benchmark's worker run from "
        f"another source tree (`--baseline`: {baseline_name}) on a database migrated by that tree. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (shared machine).", "",
        "| workers | jobs/s (median) | worker CPU ms/job | PostgreSQL CPU ms/job | jobs/s by round |",
        "|---:|---:|---:|---:|---|",
        *[_row(label, label_runs) for label, label_runs in rates.items()], "",
        *_comparison(rates),
        f"Commit-to-start latency (1 idle worker, LISTEN/NOTIFY wake-up, 200 jobs committed 20 ms apart): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms.", "",
        "A slot with a backlog claims up to 8 jobs in one claim transaction (`SET LOCAL "
        "synchronous_commit`, one `UPDATE … FOR UPDATE SKIP LOCKED`, commit). Each job then costs one "
        "handler transaction of three round trips: `BEGIN`, the done mark (`UPDATE … RETURNING`, which "
        "also locks the row; the handler runs after it and a failure rolls it back), `COMMIT`; no "
        "pre-ping on the pool checkout. The claim leaves `status` alone (running = a live lease), so "
        "it is an in-place update and only the done mark changes an indexed column.", "",
        *outbox_claim.section(claims, claim_count),
    ]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per throughput run (max 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 1, 2 and 4 workers (max 9)")
    parser.add_argument("--concurrency", type=int, default=4, help="slots per worker process")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per run")
    parser.add_argument("--claim-sizes", default="10000,100000,1000000", help="job table sizes for the claim")
    parser.add_argument("--claims", type=int, default=300, help="claims timed at each size (max 312)")
    parser.add_argument(
        "--baseline", type=Path, help="a source tree of another version, e.g. from git archive"
    )
    parser.add_argument("--baseline-name", default="none", help="what the baseline tree is, for the results")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.concurrency))
        return
    sizes = outbox_claim.parse_sizes(parser, args.claim_sizes)
    jobs, rounds, claims = (
        min(args.jobs, 20_000),
        min(max(args.rounds, 1), 9),
        outbox_claim.bounded(args.claims),
    )
    baseline = args.baseline.resolve() if args.baseline else None
    rates, latencies = asyncio.run(run(jobs, rounds, args.concurrency, args.timeout, baseline))
    timings = asyncio.run(outbox_claim.measure(sizes, claims))
    section = _section(rates, latencies, timings, claims, jobs, args.concurrency, args.baseline_name)
    write_section("## Outbox", section)
    print(section)


if __name__ == "__main__":
    main()

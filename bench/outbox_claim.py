"""Outbox claim time as the job table grows: 10,000, 100,000 and 1,000,000 rows, on PostgreSQL.

    .venv/bin/python -m bench.outbox_claim [--sizes 10000,100000,1000000] [--claims 300]

In a scratch database (created and dropped), the job table is bulk-loaded with
``INSERT … SELECT generate_series`` (not through the API): mostly done jobs of the last 30 days
plus a backlog of 5,000 due jobs and 1,000 scheduled for later, then ``VACUUM ANALYZE``. At each
size the worker's claim (``repository.claim``, 8 jobs) runs ``--claims`` times, each followed by
the done mark of what it claimed, as a worker draining the backlog does, so the pending index
gets the churn of real work; the claim call is timed on the client (median and p95 ms, two round
trips: ``SET LOCAL`` and the ``UPDATE``). Then ``EXPLAIN (ANALYZE, BUFFERS)`` of one claim, rolled
back, gives the plan shape and the pages it read (median execution of five). Prints its table;
``python -m bench.outbox_throughput`` runs it too and writes it into the "Outbox" section of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.postgres import ADMIN_URL
from bench.postgres import admin as _admin
from billhook.db import create_engine, create_session_factory, migrate
from billhook.kit.clock import utcnow
from billhook.outbox import repository

BACKLOG, SCHEDULED, BATCH = 5_000, 1_000, 8
LEASE = timedelta(minutes=5)
_EXECUTION = re.compile(r"Execution Time: ([\d.]+)")

_LOAD = text("""
INSERT INTO outbox_jobs (id, key, type, payload, status, attempts, max_attempts, run_after,
                         created_at, updated_at, finished_at)
SELECT 'job_' || CAST(:tag AS text) || '_' || g, CAST(:tag AS text) || ':' || g, 'bench.noop',
       '{}'::jsonb, CAST(:status AS varchar), 1, 5, at, at, at,
       CASE WHEN CAST(:status AS varchar) = 'done' THEN at END
FROM (SELECT g, now() + make_interval(secs => CAST(:offset AS float8) + g * CAST(:spacing AS float8)) AS at
      FROM generate_series(1, CAST(:count AS integer)) AS g) AS rows
""")


@dataclass(frozen=True, slots=True)
class ClaimTiming:
    rows: int
    median_ms: float
    p95_ms: float
    plan: str
    execution_ms: float
    buffers: str


async def _load(
    engine: AsyncEngine, tag: str, status: str, count: int, offset: float, spacing: float
) -> None:
    if count <= 0:
        return
    async with engine.begin() as connection:
        await connection.execute(
            _LOAD, {"tag": tag, "status": status, "count": count, "offset": offset, "spacing": spacing}
        )


async def _vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE outbox_jobs"))


async def _fill(engine: AsyncEngine, rows: int, loaded: int) -> None:
    """Done jobs up to ``rows`` in all, spread over the last 30 days; the backlog back to full."""
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM outbox_jobs WHERE key LIKE 'backlog:%' OR key LIKE 'later:%'")
        )
    done = rows - BACKLOG - SCHEDULED - loaded
    await _load(engine, f"done{loaded}", "done", done, -30 * 86400.0, 30 * 86400.0 / max(done, 1) * 0.999)
    await _load(engine, "backlog", "pending", BACKLOG, -60.0, 0.001)
    await _load(engine, "later", "pending", SCHEDULED, 3600.0, 1.0)
    await _vacuum(engine)


async def _claims(engine: AsyncEngine, count: int) -> list[float]:
    session_factory = create_session_factory(engine)
    timings = []
    for _ in range(count):
        async with session_factory() as session:
            now = utcnow()
            started = time.perf_counter()
            jobs = await repository.claim(session, worker_id="bench", now=now, lease=LEASE, limit=BATCH)
            timings.append((time.perf_counter() - started) * 1000)
            await session.commit()
            for job in jobs:
                await repository.mark_done(session, job.id, "bench", now)
            await session.commit()
    return timings


async def _explain(engine: AsyncEngine, runs: int = 5) -> tuple[str, float, str]:
    """The plan of the claim as a prepared statement's generic plan; median execution of ``runs``."""
    sql = repository._CLAIM.compile(dialect=postgresql.asyncpg.dialect()).string  # type: ignore[no-untyped-call]
    executions, lines = [], []
    async with engine.connect() as connection:
        for _ in range(runs):
            await connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            await connection.execute(text(f"PREPARE claim AS {sql}"))
            lines = list(
                await connection.scalars(
                    text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
                         "EXECUTE claim(1, now() + interval '5 minutes', 'x', now(), 8)")
                )
            )  # fmt: skip
            await connection.rollback()
            await connection.execute(text("DEALLOCATE claim"))
            await connection.commit()
            executions.append(
                next(
                    float(m.group(1)) for line in lines if (m := re.search(r"Execution Time: ([\d.]+)", line))
                )
            )
    shape = " → ".join(
        re.sub(r"\s*\(actual.*", "", line).strip().lstrip("-> ").strip()
        for line in lines
        if re.search(r"(Scan|Update|Limit|LockRows|CTE|Join|Sort|Aggregate)\b", line) and "actual" in line
    )
    buffers = next((line.strip() for line in lines if "Buffers:" in line), "")
    return shape, statistics.median(executions), buffers


async def measure(sizes: list[int], claims: int) -> list[ClaimTiming]:
    name = f"billhook_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    results = []
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        loaded = 0
        for rows in sorted(sizes):
            await _fill(engine, rows, loaded)
            loaded = rows - BACKLOG - SCHEDULED
            await _claims(engine, 20)  # warm the plan cache and the pages
            timings = sorted(await _claims(engine, claims))
            shape, execution, buffers = await _explain(engine)
            results.append(ClaimTiming(rows, statistics.median(timings), timings[int(len(timings) * 0.95)],
                                       shape, execution, buffers))  # fmt: skip
    finally:
        await engine.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def section(results: list[ClaimTiming], claims: int) -> list[str]:
    return [
        f"Claim time by table size (`python -m bench.outbox_claim`): mostly done jobs of the last 30 days "
        f"bulk-loaded with `generate_series`, plus {BACKLOG:,} due and {SCHEDULED:,} later jobs, `VACUUM "
        f"ANALYZE`; {claims} claims of {BATCH} jobs each, each followed by their done mark (the backlog "
        f"drains as a worker's would), timed on the client (`SET LOCAL` plus the claim `UPDATE`). "
        f"Execution and buffers: `EXPLAIN (ANALYZE, BUFFERS)` of one more claim, generic plan.", "",
        "| rows in the job table | claim median ms | claim p95 ms | server execution ms | buffers |",
        "|---:|---:|---:|---:|---|",
        *[f"| {r.rows:,} | {r.median_ms:.2f} | {r.p95_ms:.2f} | {r.execution_ms:.3f} | "
          f"{r.buffers.removeprefix('Buffers: ')} |" for r in results],
        "",
        "Plans seen (the pick always through the pending index, the update through the primary key): "
        f"{' / '.join(sorted({r.plan for r in results}))}.", "",
    ]  # fmt: skip


def parse_sizes(parser: argparse.ArgumentParser, value: str) -> list[int]:
    sizes = [int(size) for size in value.split(",")]
    if min(sizes) <= BACKLOG + SCHEDULED or max(sizes) > 2_000_000:
        parser.error(f"sizes must be between {BACKLOG + SCHEDULED + 1} and 2,000,000")
    return sizes


def bounded(claims: int) -> int:
    """At most what half the backlog allows, so every claim finds a full batch."""
    return max(1, min(claims, BACKLOG // BATCH // 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--claims", type=int, default=300)
    args = parser.parse_args()
    claims = bounded(args.claims)
    print("\n".join(section(asyncio.run(measure(parse_sizes(parser, args.sizes), claims)), claims)))


if __name__ == "__main__":
    main()

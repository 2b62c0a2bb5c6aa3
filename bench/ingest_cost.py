"""Webhook ingest against a baseline tree: instructions and CPU per delivery, server by server.

    git worktree add --detach /tmp/billhook-base b3220d1      # the code to compare with
    .venv/bin/python -m bench.ingest_cost --baseline /tmp/billhook-base --callgrind
    .venv/bin/python -m bench.ingest_cost --baseline /tmp/billhook-base --rounds 8

Throughput on this shared 2-core machine drifts by up to 2x between minutes, which hides a
change of a few percent; so this bench measures what each server spends per delivery:

* ``--callgrind``: instructions the server process executes per delivery, counted by valgrind's
  callgrind with instrumentation on only while measuring (``callgrind_control -i on/off``). The
  count does not depend on what else the machine does; it repeats within about 1% (batch sizes
  of the group commit vary a little). Valgrind slows the servers ~25x, so the load is small.
* otherwise: server CPU per delivery (``/proc/<pid>/schedstat``), whole-machine CPU per delivery
  (``/proc/stat``: the server, PostgreSQL and this load generator) and events/s, with the trees
  taking turns within each round; medians and per-round ratios.

Each server is a tree's own ``python -m bench.webhook_ingest serve TARGET`` run from that tree
(its own app, settings and bench), both on one scratch database migrated by this tree; events
are live or test as the tree's bench key is. The load is ``bench.webhook_ingest``'s: signed
invoice.paid events of 3-6 KB on keep-alive connections. With ``--write``, results go under
the "Webhook ingest against the baseline, instructions" (or "..., CPU time") heading of
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import webhook_ingest as ingest
from bench.postgres import admin
from bench.results import write_section

ROOT = Path(__file__).resolve().parents[1]
OUT = Path("/tmp/billhook-bench-ingest-cost")


@dataclass
class Server:
    label: str
    tree: Path
    target: str
    live: bool
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    instructions: list[float] = field(default_factory=list)
    server_us: list[float] = field(default_factory=list)
    machine_us: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def profile(self) -> Path:
        return OUT / f"{self.label}.callgrind"


def _live_key(tree: Path) -> bool:
    """Whether the tree's bench serves with a live key (then its events must be live too)."""
    return 'stripe_secret_key="sk_live_' in (tree / "bench" / "webhook_ingest.py").read_text()


def _events(count: int, rng: random.Random, live: bool) -> list[bytes]:
    bodies = []
    for body in ingest.make_events(count, rng):
        event = json.loads(body)
        event["livemode"] = live
        bodies.append(json.dumps(event).encode())
    return bodies


def _server_cpu_ns(pid: int) -> int:
    total = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[0])
        except OSError:  # a thread that ended meanwhile
            continue
    return total


def _machine_ticks() -> int:
    """Busy CPU time of the whole machine, in clock ticks (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    return sum(int(value) for index, value in enumerate(fields) if index not in (3, 4))


def _start(server: Server, url: str, callgrind: bool) -> None:
    server.port = ingest._free_port()
    command = [sys.executable, "-m", "bench.webhook_ingest", "serve", server.target, str(server.port), url]
    if callgrind:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={server.profile}",
            *command,
        ]
    log = (OUT / f"{server.label}.log").open("w")
    server.process = subprocess.Popen(
        command, cwd=server.tree, env={**os.environ, "PYTHONPATH": str(server.tree)}, stdout=log, stderr=log
    )


def _instrument(server: Server, on: bool) -> None:
    assert server.process is not None
    pid = str(server.process.pid)
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", pid], check=True, capture_output=True)
    if not on:
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)


def _dumped_instructions(server: Server) -> int:
    """Instructions in the newest dump (each ``-d`` writes ``<file>.<n>`` with the part since the last)."""
    dumps = sorted(OUT.glob(f"{server.label}.callgrind.*"), key=lambda path: int(path.suffix[1:]))
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("totals:", "summary:")) and int(line.split()[1]) > 0:
            return int(line.split()[1])
    raise RuntimeError(f"no instruction count in {dumps[-1]}")


async def _measure(server: Server, bodies: list[bytes], concurrency: int, callgrind: bool) -> str:
    assert server.process is not None
    if callgrind:
        _instrument(server, on=True)
    cpu_before, ticks_before = _server_cpu_ns(server.process.pid), _machine_ticks()
    run = await ingest.load(server.label, server.port, bodies, concurrency, 600)
    cpu_after, ticks_after = _server_cpu_ns(server.process.pid), _machine_ticks()
    if run.ok != len(bodies):
        raise RuntimeError(f"{server.label}: {run.ok} of {len(bodies)} deliveries answered 200")
    server.server_us.append((cpu_after - cpu_before) / 1000 / run.ok)
    server.machine_us.append((ticks_after - ticks_before) * 1_000_000 / os.sysconf("SC_CLK_TCK") / run.ok)
    server.rates.append(run.rate)
    line = (
        f"{run.rate:7.0f} ev/s  server {server.server_us[-1]:6.1f} us  "
        f"machine {server.machine_us[-1]:6.1f} us"
    )
    if callgrind:
        _instrument(server, on=False)
        server.instructions.append(_dumped_instructions(server) / run.ok)
        line += f"  {server.instructions[-1]:,.0f} instructions"
    return line + " per delivery"


async def bench(servers: list[Server], events: int, concurrency: int, rounds: int, callgrind: bool) -> None:
    rng = random.Random(7)
    name, url = await ingest._scratch_database()
    try:
        for server in servers:
            _start(server, url, callgrind)
        for server in servers:
            assert server.process is not None
            await ingest._wait_for_port(server.port, server.process, within=600)
            for warm_concurrency in (8, concurrency):  # connections, caches and the writer's pool
                await ingest.load(
                    server.label, server.port, _events(500, rng, server.live), warm_concurrency, 600
                )
        for round_no in range(1, rounds + 1):
            # Servers take turns within a round, in reverse order every other round: a machine
            # getting faster or slower over the run favours neither tree.
            for server in servers if round_no % 2 else servers[::-1]:
                line = await _measure(server, _events(events, rng, server.live), concurrency, callgrind)
                print(f"round {round_no} {server.label:>14}: {line}", flush=True)
    finally:
        for server in servers:
            if server.process is not None:
                server.process.terminate()
                try:
                    server.process.wait(60)
                except subprocess.TimeoutExpired:
                    server.process.kill()
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ratios(new: list[float], old: list[float]) -> list[float]:
    return [n / o for n, o in zip(new, old, strict=True) if o]


def _section(pairs: list[tuple[Server, Server]], args: argparse.Namespace, baseline: str) -> str:
    when = datetime.now(UTC).date().isoformat()
    mode = "callgrind" if args.callgrind else "CPU time"
    flag = " --callgrind" if args.callgrind else ""
    lines = [
        _heading(args.callgrind),
        "",
        f"`python -m bench.ingest_cost --baseline <tree at {baseline}>{flag} "
        f"--events {args.events} --rounds {args.rounds}` on {when} "
        f"({mode}): PostgreSQL at 127.0.0.1, {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}; each server its tree's own `bench.webhook_ingest serve`, one uvicorn "
        f"process, one scratch database; {args.events} signed invoice.paid events of 3-6 KB per round at "
        f"c={args.concurrency}, trees taking turns within each round (order reversed every other round). "
        f"Medians of {args.rounds} rounds; ratios are this tree over the baseline, round by round.",
        "",
    ]
    if args.callgrind:
        lines += [
            "| target | baseline instructions | this tree | ratio (each round) |",
            "|---|---:|---:|---|",
        ]
        for old, new in pairs:
            ratios = _ratios(new.instructions, old.instructions)
            lines.append(
                f"| {new.target} | {statistics.median(old.instructions):,.0f} | "
                f"{statistics.median(new.instructions):,.0f} | "
                f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)}) |"
            )
    else:
        lines += [
            "| target | server CPU µs, baseline / this | ratio | machine CPU µs, baseline / this | ratio "
            "| events/s, baseline / this | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for old, new in pairs:
            cells = []
            for attribute in ("server_us", "machine_us", "rates"):
                before, after = getattr(old, attribute), getattr(new, attribute)
                cells.append(f"{statistics.median(before):,.1f} / {statistics.median(after):,.1f}")
                cells.append(f"{statistics.median(_ratios(after, before)):.3f}")
            lines.append(f"| {new.target} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _heading(callgrind: bool) -> str:
    return f"## Webhook ingest against the baseline, {'instructions' if callgrind else 'CPU time'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the code to compare with")
    parser.add_argument(
        "--targets", nargs="+", default=["fastpath", "billhook"], choices=["fastpath", "billhook"]
    )
    parser.add_argument(
        "--events", type=int, default=None, help="deliveries per round (5000, or 2000 with callgrind)"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=None, help="rounds (8, or 1 with callgrind)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind")
    parser.add_argument("--write", action="store_true", help="record the result in bench/RESULTS.md")
    args = parser.parse_args()
    args.events = args.events or (2000 if args.callgrind else 5000)
    args.rounds = args.rounds or (1 if args.callgrind else 8)
    baseline = args.baseline.resolve()
    if not (baseline / "bench" / "webhook_ingest.py").exists():
        parser.error(f"{baseline} is not a Billhook checkout with bench/webhook_ingest.py")
    if args.callgrind and shutil.which("valgrind") is None:
        parser.error("--callgrind needs valgrind (Debian's package valgrind)")
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("*.callgrind*"):
        stale.unlink()
    revision = subprocess.run(
        ["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip() or str(baseline)
    pairs = [
        (
            Server(f"baseline-{target}", baseline, target, _live_key(baseline)),
            Server(f"this-{target}", ROOT, target, _live_key(ROOT)),
        )
        for target in args.targets
    ]
    servers = [server for pair in pairs for server in pair]
    asyncio.run(bench(servers, args.events, args.concurrency, args.rounds, args.callgrind))
    section = _section(pairs, args, revision)
    print(section)
    if args.write:
        write_section(_heading(args.callgrind), section)


if __name__ == "__main__":
    main()

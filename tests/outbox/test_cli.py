from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from billhook.cli.jobs import app
from billhook.kit.clock import utcnow
from billhook.models import JobStatus, OutboxJob
from billhook.outbox import enqueue, repository
from billhook.runtime import Runtime
from tests.support.outbox import EFFECT, build_runtime

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    runtime = build_runtime(database_url)
    yield runtime
    await runtime.aclose()


async def _cli(database_url: str, *args: str) -> Result:
    env = {"DATABASE_URL": database_url, "BILLHOOK_AUTO_MIGRATE": "false", "LOG_LEVEL": "WARNING"}
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


async def _job(runtime: Runtime, key: str, status: str = JobStatus.PENDING, error: str | None = None) -> str:
    async with runtime.session_factory() as session:
        await enqueue(session, EFFECT, {"n": 1}, key=key)
        await session.execute(
            update(OutboxJob).where(OutboxJob.key == key).values(status=status, attempts=5, last_error=error)
        )
        await session.commit()
        job = (await session.execute(OutboxJob.__table__.select().where(OutboxJob.key == key))).one()
    return str(job.id)


async def test_list_shows_dead_jobs_as_json(database_url: str, runtime: Runtime) -> None:
    dead = await _job(runtime, "dead-one", JobStatus.DEAD, "RuntimeError: boom\n  at x.py:1")
    await _job(runtime, "done-one", JobStatus.DONE)
    result = await _cli(database_url, "list", "--status", "dead", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(row["id"], row["status"], row["last_error"]) for row in rows] == [
        (dead, "dead", "RuntimeError: boom")
    ]
    table = await _cli(database_url, "list", "--type", EFFECT)
    assert table.exit_code == 0 and dead in table.output and "done-one" in table.output


async def test_a_job_under_a_live_lease_is_listed_as_running(database_url: str, runtime: Runtime) -> None:
    """A claim leaves ``status`` pending; the lease is what makes the job running."""
    leased = await _job(runtime, "leased-one")
    async with runtime.session_factory() as session:
        await repository.claim(session, worker_id="w1", now=utcnow(), lease=timedelta(minutes=5), limit=1)
        await session.commit()
    waiting = await _job(runtime, "waiting-one")

    running = json.loads((await _cli(database_url, "list", "--status", "running", "--json")).output)
    pending = json.loads((await _cli(database_url, "list", "--status", "pending", "--json")).output)
    assert [(row["id"], row["status"]) for row in running] == [(leased, "running")]
    assert [(row["id"], row["status"]) for row in pending] == [(waiting, "pending")]
    shown = json.loads((await _cli(database_url, "show", leased)).output)
    assert (shown["status"], shown["locked_by"]) == ("running", "w1")


async def test_retry_puts_a_dead_job_back_with_attempts_reset(database_url: str, runtime: Runtime) -> None:
    dead = await _job(runtime, "to-retry", JobStatus.DEAD, "boom")
    result = await _cli(database_url, "retry", dead)
    assert result.exit_code == 0, result.output
    assert f"job {dead} (test.effect) queued again" in result.output
    async with runtime.session_factory() as session:
        job = await session.get_one(OutboxJob, dead)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)


async def test_retry_refuses_unknown_and_live_jobs_in_one_line(database_url: str, runtime: Runtime) -> None:
    unknown = await _cli(database_url, "retry", "job_nope")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "error: no job 'job_nope'"
    done = await _job(runtime, "finished", JobStatus.DONE)
    live = await _cli(database_url, "retry", done)
    assert live.exit_code == 1
    assert live.output.strip() == f"error: job {done} is done; only dead jobs can be retried"


async def test_show_prints_the_payload_and_error(database_url: str, runtime: Runtime) -> None:
    dead = await _job(runtime, "shown", JobStatus.DEAD, "RuntimeError: boom\n  at x.py:1")
    result = await _cli(database_url, "show", dead)
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert (shown["payload"], shown["last_error"]) == ({"n": 1}, "RuntimeError: boom\n  at x.py:1")
    missing = await _cli(database_url, "show", "job_missing")
    assert (missing.exit_code, missing.output.strip()) == (1, "error: no job 'job_missing'")


async def test_an_unknown_status_is_refused(database_url: str) -> None:
    result = await _cli(database_url, "list", "--status", "stuck")
    assert result.exit_code == 1
    assert "unknown status 'stuck'" in result.output


async def test_hooks_add_list_and_disable(database_url: str) -> None:
    added = await _cli(database_url, "hooks", "add", "https://host.example/hooks", "--event", "order.paid")
    assert added.exit_code == 0, added.output
    endpoint_id = added.output.split()[1]
    assert "signing secret: whsec_" in added.output
    listed = await _cli(database_url, "hooks", "list")
    assert f"{endpoint_id}  active    https://host.example/hooks  order.paid" in listed.output
    assert "whsec_" not in listed.output
    disabled = await _cli(database_url, "hooks", "disable", endpoint_id)
    assert disabled.exit_code == 0
    deliveries = await _cli(database_url, "hooks", "deliveries", "--endpoint", endpoint_id)
    assert (deliveries.exit_code, deliveries.output.strip()) == (0, "no deliveries")
    bad = await _cli(database_url, "hooks", "add", "https://host.example/x", "--event", "order.shipped")
    assert bad.exit_code == 1 and "unknown event type(s) order.shipped" in bad.output


async def test_the_worker_command_runs_jobs_until_sigterm(database_url: str, runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await enqueue(
            session, "webhook.publish", {"event_type": "order.paid", "event_key": "k", "data": {}}, key="w"
        )
        await session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BILLHOOK_AUTO_MIGRATE": "false",
        "PYTHONPATH": str(ROOT),
        # The inbox's reconcile asks the provider: a closed port, not whatever serves 127.0.0.1:8000.
        "STRIPE_API_BASE": "http://127.0.0.1:9",
    }
    code = "import typer; from billhook.cli.worker import worker; typer.run(worker)"
    child = subprocess.Popen([sys.executable, "-c", code, "--concurrency", "2"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            async with runtime.session_factory() as session:
                job = (await session.execute(OutboxJob.__table__.select().where(OutboxJob.key == "w"))).one()
            if job.status == JobStatus.DONE:
                break
            assert time.monotonic() < deadline and child.poll() is None, (
                child.stderr.read() if child.stderr else ""
            )
            await asyncio.sleep(0.05)
    finally:
        child.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(child.communicate, timeout=30)
    assert child.returncode == 0, err
    assert "outbox_worker_stopped" in err


async def test_an_unmigrated_database_gets_a_one_line_error(tmp_path: Path) -> None:
    result = await _cli(f"sqlite:///{tmp_path / 'empty.db'}", "list")
    assert result.exit_code == 1
    assert result.output.startswith("error: the database is not ready (")
    assert "run billhook migrate" in result.output and result.output.count("\n") == 1

"""``billhook jobs``: inspect and retry outbox jobs, and manage outgoing webhook endpoints.

billhook jobs list [--status dead] [--type T] [--limit N] [--json]
billhook jobs show ID
billhook jobs retry ID
billhook jobs hooks add URL [--event order.paid ...] [--description TEXT]
billhook jobs hooks list | disable ID | deliveries [--endpoint ID]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cli.tables import print_table
from billhook.config import load_settings
from billhook.errors import BillhookError, NotFound
from billhook.fulfilment import webhooks
from billhook.kit.formatting import format_datetime
from billhook.models import JobStatus, OutboxJob
from billhook.outbox import repository
from billhook.outbox.dead_letters import retry_dead_job
from billhook.runtime import Runtime

T = TypeVar("T")

app = typer.Typer(help="Inspect and retry outbox jobs; manage outgoing webhooks.", no_args_is_help=True)
hooks = typer.Typer(help="Outgoing webhook endpoints (Standard Webhooks).", no_args_is_help=True)
app.add_typer(hooks, name="hooks")


def _run(action: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Build a runtime from the environment, run ``action`` in one transaction, commit."""

    async def main() -> T:
        runtime = Runtime.build(load_settings())
        try:
            async with runtime.session_factory() as session:
                result = await action(session, runtime)
                await session.commit()
                return result
        finally:
            await runtime.aclose()

    try:
        return asyncio.run(main())
    except BillhookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200]
        typer.echo(
            f"error: the database is not ready ({reason}); check DATABASE_URL, run billhook migrate", err=True
        )
        raise typer.Exit(1) from None


def _summary(job: OutboxJob, now: datetime) -> dict[str, Any]:
    return {
        "id": job.id, "type": job.type, "status": job.state(now), "attempts": job.attempts,
        "max_attempts": job.max_attempts, "run_after": job.run_after.isoformat(), "key": job.key,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "last_error": (job.last_error or "").splitlines()[0] if job.last_error else None,
    }  # fmt: skip


@app.command("list")
def list_command(
    status: str | None = typer.Option(None, help="pending, running, done or dead."),
    job_type: str | None = typer.Option(None, "--type", help="Only jobs of this type."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List jobs, newest first."""
    if status is not None and status not in {s.value for s in JobStatus}:
        typer.echo(f"error: unknown status {status!r}; use pending, running, done or dead", err=True)
        raise typer.Exit(1)

    async def action(session: AsyncSession, runtime: Runtime) -> list[dict[str, Any]]:
        now = runtime.clock.now()
        found = await repository.list_jobs(session, now=now, status=status, job_type=job_type, limit=limit)
        return [_summary(job, now) for job in found]

    rows = _run(action)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("id", "status", "attempts", "type", "runs after", "key", "last error"),
        (
            (
                row["id"],
                row["status"],
                f"{row['attempts']}/{row['max_attempts']}",
                row["type"],
                format_datetime(row["run_after"]),
                row["key"],
                (row["last_error"] or "").splitlines()[0][:120] if row["last_error"] else "",
            )
            for row in rows
        ),
        empty="no jobs",
    )


@app.command("show")
def show_command(job_id: str = typer.Argument(..., help="The job's id (job_…).")) -> None:
    """Show one job with its payload and full last error."""

    async def action(session: AsyncSession, runtime: Runtime) -> dict[str, Any]:
        job = await repository.get(session, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return {**_summary(job, runtime.clock.now()), "payload": job.payload, "last_error": job.last_error,
                "locked_by": job.locked_by}  # fmt: skip

    typer.echo(json.dumps(_run(action), indent=2, default=str))


@app.command("retry")
def retry_command(job_id: str = typer.Argument(..., help="A dead job's id.")) -> None:
    """Put a dead job back in the queue with its attempts reset."""

    async def action(session: AsyncSession, runtime: Runtime) -> str:
        job = await retry_dead_job(session, job_id, runtime.clock.now())
        return job.type

    job_type = _run(action)
    typer.echo(f"job {job_id} ({job_type}) queued again")


@hooks.command("add")
def hooks_add(
    url: str = typer.Argument(..., help="The receiver's http(s) URL."),
    event: list[str] = typer.Option([], "--event", help="An event type to send (repeat); default all."),
    description: str | None = typer.Option(None, help="A note for operators."),
) -> None:
    """Add an endpoint and print its signing secret (shown once; store it in the receiver)."""

    async def action(session: AsyncSession, _runtime: Runtime) -> tuple[str, str]:
        endpoint = await webhooks.add_endpoint(session, url, event_types=event, description=description)
        return endpoint.id, endpoint.secret

    endpoint_id, secret = _run(action)
    typer.echo(f"endpoint {endpoint_id} -> {url}")
    typer.echo(f"signing secret: {secret}")


@hooks.command("list")
def hooks_list() -> None:
    """List endpoints (secrets are not shown)."""

    async def action(session: AsyncSession, _runtime: Runtime) -> list[str]:
        lines = []
        for endpoint in await webhooks.list_endpoints(session):
            state = "active" if endpoint.active else "disabled"
            events = ",".join(endpoint.event_types) or "all events"
            lines.append(f"{endpoint.id}  {state:<8}  {endpoint.url}  {events}")
        return lines

    typer.echo("\n".join(_run(action)) or "no endpoints")


@hooks.command("disable")
def hooks_disable(endpoint_id: str = typer.Argument(..., help="The endpoint's id (we_…).")) -> None:
    """Stop sending to an endpoint; its delivery log is kept."""

    async def action(session: AsyncSession, _runtime: Runtime) -> str:
        return (await webhooks.disable_endpoint(session, endpoint_id)).url

    typer.echo(f"endpoint {endpoint_id} disabled ({_run(action)})")


@hooks.command("deliveries")
def hooks_deliveries(
    endpoint: str | None = typer.Option(None, help="Only this endpoint's deliveries."),
) -> None:
    """The delivery log, newest first."""

    async def action(session: AsyncSession, _runtime: Runtime) -> list[str]:
        return [
            f"{d.id}  {d.status:<9}  {d.attempts} tries  {d.last_status_code or '-'}  "
            f"{d.event_type}  {d.event_key}"
            for d in await webhooks.list_deliveries(session, endpoint)
        ]

    typer.echo("\n".join(_run(action)) or "no deliveries")

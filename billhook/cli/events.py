"""``billhook events``: inspect, replay and recover provider events in the inbox.

billhook events list [--status pending|processing|processed|failed|dead] [--type T] [--limit N] [--json]
billhook events show ID            (an ``evt_…`` or ``ie_…`` id)
billhook events replay ID          (apply it again now; safe: changes nothing if already applied)
billhook events reconcile [--since 24h]
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import typer

from billhook.cli.tables import print_table
from billhook.config import load_settings
from billhook.errors import BillhookError, InvalidInput
from billhook.inbox.reconcile import reconcile
from billhook.inbox.replay import STATUSES, find_event, list_events, replay
from billhook.inbox.worker import InboxWorker
from billhook.kit.formatting import format_datetime
from billhook.models import InboxEvent
from billhook.providers.stripe import build_provider
from billhook.runtime import Runtime

T = TypeVar("T")

app = typer.Typer(
    help="Inspect, replay and reconcile provider events (the webhook inbox).", no_args_is_help=True
)

_SPAN = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> datetime | timedelta:
    """``24h``, ``30m``, ``7d``, ``90s`` or an ISO 8601 time (UTC when no zone is given)."""
    match = _SPAN.match(value.strip().lower())
    if match:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"--since {value!r}: use e.g. 24h, 30m, 7d or an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(action: Callable[[Runtime], Awaitable[T]], *, with_provider: bool = False) -> T:
    async def main() -> T:
        settings = load_settings()
        runtime = Runtime.build(settings)
        if with_provider:
            runtime.provider = build_provider(settings)
        try:
            return await action(runtime)
        finally:
            await runtime.aclose()

    try:
        return asyncio.run(main())
    except BillhookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _summary(row: InboxEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "source": row.source,
        "flag": row.flag,
        "object_id": row.object_id,
        "received_at": row.received_at.isoformat(),
        "processed_at": row.processed_at.isoformat() if row.processed_at else None,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "last_error": row.last_error,
    }


@app.command("list")
def list_command(
    status: str | None = typer.Option(None, help=f"One of: {', '.join(STATUSES)}."),
    event_type: str | None = typer.Option(None, "--type", help="Only events of this type."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List stored events, newest first."""

    async def action(runtime: Runtime) -> list[dict[str, Any]]:
        async with runtime.session_factory() as session:
            found = await list_events(session, status=status, event_type=event_type, limit=limit)
            return [_summary(row) for row in found]

    rows = _run(action)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("event", "type", "status", "attempts", "received", "flag", "last error"),
        (
            (
                row["event_id"],
                row["type"],
                row["status"],
                row["attempts"],
                format_datetime(row["received_at"]),
                row["flag"] or "",
                row["last_error"].splitlines()[0] if row["last_error"] else "",
            )
            for row in rows
        ),
        empty="no events",
    )


@app.command("show")
def show_command(event_id: str = typer.Argument(..., help="evt_… or ie_… id.")) -> None:
    """Show one event with its payload and last error."""

    async def action(runtime: Runtime) -> dict[str, Any]:
        async with runtime.session_factory() as session:
            row = await find_event(session, event_id)
            return {**_summary(row), "ordering_key": row.ordering_key, "payload": row.payload}

    typer.echo(json.dumps(_run(action), indent=2, default=str))


@app.command("replay")
def replay_command(event_id: str = typer.Argument(..., help="evt_… or ie_… id.")) -> None:
    """Apply an event again now (dead, failed or processed alike)."""

    async def action(runtime: Runtime) -> str:
        return await replay(InboxWorker(runtime), event_id)

    outcome = _run(action, with_provider=True)
    typer.echo(f"{event_id}: {outcome}")
    if outcome in {"failed", "dead"}:
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_command(
    since: str = typer.Option("24h", help="How far back: 24h, 30m, 7d or an ISO time."),
) -> None:
    """Store every provider event since SINCE that the inbox lacks (healing missed deliveries)."""
    try:
        start = parse_since(since)
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None

    async def action(runtime: Runtime) -> str:
        report = await reconcile(runtime, start)
        return f"seen {report.seen} events in {report.pages} pages; stored {report.stored} missing"

    typer.echo(_run(action, with_provider=True))

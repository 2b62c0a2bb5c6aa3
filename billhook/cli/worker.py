"""``billhook worker``: standalone inbox and outbox workers until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import replace

import typer

from billhook.bootstrap import build_runtime, inbox_options, retention
from billhook.config import load_settings
from billhook.inbox.worker import InboxWorker
from billhook.kit.heap import settle_heap
from billhook.logging import configure_logging
from billhook.ops.retention import RetentionService
from billhook.ops.startup import StartupError, check_database
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime


def worker(
    concurrency: int = typer.Option(
        4, min=1, max=256, help="Outbox jobs run at once (PostgreSQL; SQLite runs one)."
    ),
    grace: float = typer.Option(
        30.0, min=0, help="Seconds in-flight jobs and events get to finish on shutdown."
    ),
) -> None:
    """Run webhook-inbox and outbox workers against DATABASE_URL. Start several, on several
    machines, against one PostgreSQL to scale out; SIGTERM finishes in-flight jobs, then releases
    the rest."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:  # a database that cannot be reached is one line, not a traceback
        asyncio.run(check_database(settings))
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    runtime = build_runtime(settings, workers=False, embed_sandbox=False)
    settle_heap()
    asyncio.run(_serve(runtime, concurrency, grace))


async def _serve(runtime: Runtime, concurrency: int, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    outbox = OutboxWorker(runtime, concurrency=concurrency, grace=grace)
    # The inbox has its own slots (BILLHOOK_INBOX_CONCURRENCY): its work waits on the provider.
    inbox = InboxWorker(runtime, replace(inbox_options(runtime.settings), grace=grace))
    pruner = RetentionService(runtime, retention(runtime.settings))
    await runtime.start()
    try:
        await outbox.start()
        await inbox.start()
        await pruner.start()
        typer.echo(
            f"worker {outbox.worker_id} running {outbox.concurrency} at once; SIGTERM to stop", err=True
        )
        await stop.wait()
    finally:
        await pruner.aclose()
        await inbox.aclose()
        await outbox.aclose()
        await runtime.aclose()

"""``billhook serve`` and ``billhook migrate``.

``serve`` checks what a person can get wrong (settings, catalog, database) before it listens and
says what is wrong in one line (``error: …``, exit 1; tracebacks only with ``LOG_LEVEL=DEBUG``).
It prints that it is listening only once the socket accepts connections.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import typer
import uvicorn
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.catalog import CatalogError, missing_catalog_note
from billhook.config import Settings, ensure_secret_key, load_settings
from billhook.db import create_engine, migrate
from billhook.logging import configure_logging
from billhook.notifications import MAILBOX_PATH
from billhook.ops.embedded import SANDBOX_MOUNT
from billhook.ops.startup import (
    StartupError,
    describe_database_failure,
    open_sqlite_file,
    preflight,
    startup_message,
)
from billhook.runtime import Runtime

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1"}  # noqa: S104 (names, not a bind)
_STARTUP_FAILED = "Application startup failed. Exiting."


def serve(
    host: str | None = typer.Option(
        None, help="Interface to listen on (default: BILLHOOK_BASE_URL's host when local, else 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, help="Port to listen on (default: BILLHOOK_BASE_URL's port when local, else 8000)."
    ),
) -> None:
    """Run the HTTP service. With the embedded default (SQLite, no Stripe key) it migrates
    the database on start and needs nothing else."""
    settings = ensure_secret_key(load_settings())
    host, port = listen_address(settings, host, port)
    if "billhook_base_url" not in settings.model_fields_set:
        # Links, redirects and the embedded sandbox's webhooks must reach this very server.
        settings.billhook_base_url = f"http://{host}:{port}"
    configure_logging(settings.log_level, settings.log_format)
    debug = settings.log_level == "DEBUG"
    try:
        checked = asyncio.run(preflight(settings))
    except (StartupError, CatalogError) as exc:
        _stop(exc, debug=debug)
    if checked.uses_example_catalog:
        typer.echo(missing_catalog_note(settings.billhook_catalog), err=True)
    _run_server(settings, host, port, debug=debug)


def listen_address(settings: Settings, host: str | None, port: int | None) -> tuple[str, int]:
    """Flags first; else the host and port of a local ``BILLHOOK_BASE_URL`` (as ``billhook init``
    writes it), so the service listens where its own links point; else 127.0.0.1:8000."""
    if "billhook_base_url" in settings.model_fields_set:
        parts = urlsplit(settings.billhook_base_url)
        if parts.hostname in _LOCAL_HOSTS:
            default_port = parts.port or (443 if parts.scheme == "https" else 80)
            return host or parts.hostname or DEFAULT_HOST, port or default_port
    return host or DEFAULT_HOST, port or DEFAULT_PORT


def _run_server(settings: Settings, host: str, port: int, *, debug: bool) -> None:
    from billhook.app import create_app  # noqa: PLC0415 (the whole application: only here)
    from billhook.inbox.endpoints import WebhookFastPath  # noqa: PLC0415
    from billhook.kit.heap import settle_heap  # noqa: PLC0415

    # Webhooks skip the app's routing and middleware stack (see WebhookFastPath); the rest is the app.
    app = create_app(settings)
    runtime: Runtime = app.state.runtime
    guard = StartupGuard(WebhookFastPath(app), keep_traceback=debug)
    settle_heap()
    database = _safe_url(settings.database_url)
    tasks: set[asyncio.Task[None]] = set()

    def listening() -> None:
        typer.echo(f"Billhook listening on http://{host}:{port} (database: {database})")
        task = asyncio.get_running_loop().create_task(_announce_when_ready(runtime))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # log_config=None: uvicorn's loggers go through configure_logging (JSON with LOG_FORMAT=json)
    config = uvicorn.Config(
        guard, host=host, port=port, log_level="warning", access_log=False, log_config=None, lifespan="on"
    )
    quiet = _DropLine(_STARTUP_FAILED)
    logging.getLogger("uvicorn.error").addFilter(quiet)
    try:
        AnnouncingServer(config, listening).run()
    except SystemExit:  # uvicorn exits 3 when the application's start-up failed
        if guard.failure is None:
            raise
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)
    if guard.failure is not None:
        _stop(guard.failure, debug=debug)


def pages_to_open(runtime: Runtime) -> list[tuple[str, str]]:
    """What a person opens first, with the URL each is at (the mailbox and sandbox when present)."""
    base = runtime.settings.billhook_base_url
    pages = [("pricing", f"{base}/pricing"), ("account", f"{base}/account")]
    if runtime.mailer is not None and runtime.mailer.name == "mailbox":
        pages.append(("mailbox", f"{base}{MAILBOX_PATH}"))
    pages.append(("API docs", f"{base}/docs"))
    if runtime.sandbox is not None:
        pages.append(("sandbox", f"{base}{SANDBOX_MOUNT}  (its Stripe API; 'billhook sandbox --help')"))
    return pages


async def _announce_when_ready(runtime: Runtime) -> None:
    """Once start-up work is done (what /readyz waits for), say where to go."""
    # Services expose pending() (as /readyz reads it), not an event: poll it briefly at start.
    while any(callable(pending := getattr(s, "pending", None)) and pending() for s in runtime.services):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    width = max(len(name) for name, _ in pages_to_open(runtime))
    lines = [f"  {name:<{width}}  {url}" for name, url in pages_to_open(runtime)]
    typer.echo("Ready. Open:\n" + "\n".join(lines))


class AnnouncingServer(uvicorn.Server):
    """Says it is listening once the sockets are bound, not before (and not if start-up failed)."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_listening = on_listening

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self.on_listening()


class StartupGuard:
    """Keeps the exception of a failed application start-up for one ``error:`` line.

    Starlette reports a failed lifespan start-up to the server with the formatted traceback,
    which uvicorn logs whole; outside ``LOG_LEVEL=DEBUG`` that text is left out and the caller
    prints the exception in one line instead.
    """

    def __init__(self, app: ASGIApp, *, keep_traceback: bool) -> None:
        self.app, self.keep_traceback = app, keep_traceback
        self.failure: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def report(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed" and not self.keep_traceback:
                message = {**message, "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, report)
        except Exception as exc:
            self.failure = exc
            raise


class _DropLine(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.text


def _stop(exc: BaseException, *, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exception(exc)
    typer.echo(f"error: {startup_message(exc)}", err=True)
    raise typer.Exit(1)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate_command(
    revision: str = typer.Argument("head", help="Target revision ('head' for the newest)."),
) -> None:
    """Apply database migrations to DATABASE_URL (safe to run repeatedly)."""
    settings = load_settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    try:
        open_sqlite_file(settings.database_url)
        current = asyncio.run(run())
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        typer.echo(f"error: {describe_database_failure(settings.database_url, exc)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"database at revision {current}")

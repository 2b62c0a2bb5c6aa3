"""``billhook serve``, ``billhook migrate`` and ``billhook version``."""

from __future__ import annotations

import asyncio

import typer
import uvicorn
from sqlalchemy import make_url

from billhook.app import create_app
from billhook.config import ensure_secret_key, load_settings
from billhook.db import create_engine, migrate
from billhook.inbox.endpoints import WebhookFastPath
from billhook.kit.heap import settle_heap
from billhook.logging import configure_logging


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run the HTTP service. With the embedded default (SQLite, no Stripe key) it migrates
    the database on start and needs nothing else."""
    settings = ensure_secret_key(load_settings())
    if "billhook_base_url" not in settings.model_fields_set:
        # Links, redirects and the embedded sandbox's webhooks must reach this very server.
        settings.billhook_base_url = f"http://{host}:{port}"
    configure_logging(settings.log_level, settings.log_format)
    typer.echo(f"Billhook listening on http://{host}:{port} (database: {_safe_url(settings.database_url)})")
    # Webhooks skip the app's routing and middleware stack (see WebhookFastPath); the rest is the app.
    app = WebhookFastPath(create_app(settings))
    settle_heap()
    # log_config=None: uvicorn's loggers go through configure_logging (JSON with LOG_FORMAT=json)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)


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

    current = asyncio.run(run())
    typer.echo(f"database at revision {current}")

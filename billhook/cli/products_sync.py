"""``billhook products sync [--dry-run]``: create or update the provider's products and prices.

The lead attaches :func:`sync` to the ``products`` group (``app.command("sync")(sync)``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from billhook.catalog import CatalogError, load_configured_catalog
from billhook.catalog.push import SyncReport, sync_products
from billhook.config import load_settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.errors import BillhookError
from billhook.providers.stripe import build_provider
from billhook.providers.stripe.actions import actions_for


def sync(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Make the provider's products and prices match billhook.toml (by lookup_key); print the changes."""
    settings = load_settings()
    try:
        catalog = load_configured_catalog(settings)
    except CatalogError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    async def run() -> SyncReport:
        engine = create_engine(settings.database_url)
        provider = build_provider(settings)
        try:
            if settings.auto_migrate:
                await migrate.upgrade(engine)
            async with create_session_factory(engine)() as session:
                report = await sync_products(
                    session,
                    actions_for(provider),
                    catalog,
                    price_overrides=settings.stripe_price_overrides,
                    dry_run=dry_run,
                )
                await session.commit()
                return report
        finally:
            closing = getattr(provider, "aclose", None)
            if closing is not None:
                await closing()
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except BillhookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"applied": report.applied, "changes": report.lines()}))
        return
    for line in report.lines():
        typer.echo(line)

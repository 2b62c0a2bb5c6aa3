"""Running a CLI command's work in one database transaction, with Billhook's one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.config import Settings, load_settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.errors import BillhookError

T = TypeVar("T")


def run_in_session(action: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run ``action`` in one transaction and commit it; a Billhook error is one line and exit 1."""
    settings = load_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            if settings.auto_migrate:
                await migrate.upgrade(engine)
            async with create_session_factory(engine)() as session:
                result = await action(session, settings)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except BillhookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None

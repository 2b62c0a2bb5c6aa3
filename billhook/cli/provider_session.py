"""One committed transaction with the configured provider, for CLI commands that act on billing.

The provider is the configured one (Stripe, or the sandbox of a running ``billhook serve``);
a :class:`BillhookError` becomes one ``error: …`` line and exit code 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import BillhookCache, build_cache
from billhook.config import Settings, load_settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.errors import BillhookError
from billhook.providers.actions import ProviderActions
from billhook.providers.base import PaymentProvider
from billhook.providers.stripe import build_provider
from billhook.providers.stripe.actions import actions_for

T = TypeVar("T")


@dataclass
class ProviderSession:
    settings: Settings
    session: AsyncSession
    provider: PaymentProvider
    actions: ProviderActions
    cache: BillhookCache


def run_in_transaction(action: Callable[[ProviderSession], Awaitable[T]]) -> T:
    """Run ``action`` in one committed transaction; a Billhook error exits 1 with one line."""
    settings = load_settings()

    async def main() -> T:
        engine = create_engine(settings.database_url)
        provider = build_provider(settings)
        cache = build_cache(settings)
        try:
            if settings.auto_migrate:
                await migrate.upgrade(engine)
            async with create_session_factory(engine)() as session:
                context = ProviderSession(settings, session, provider, actions_for(provider), cache)
                result = await action(context)
                await session.commit()
                return result
        finally:
            await cache.aclose()
            await provider.aclose()
            await engine.dispose()

    try:
        return asyncio.run(main())
    except BillhookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None

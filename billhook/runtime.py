"""The process's long-lived parts, built once from :class:`Settings` and handed to the shells.

The HTTP app, the CLI and the worker each build one :class:`Runtime`; nothing is created at
import time and there are no global clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billhook.config import Settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.db.engine import DatabaseTimeouts
from billhook.kit.clock import Clock, SystemClock
from billhook.logging import get_logger
from billhook.outbox.jobs import JobRegistry

if TYPE_CHECKING:
    from billhook.cache import BillhookCache
    from billhook.kit.webhook_secrets import WebhookSecrets
    from billhook.notifications.mailer import Mailer
    from billhook.providers.actions import ProviderActions
    from billhook.providers.base import PaymentProvider
    from billhook.providers.sandbox import Sandbox

log = get_logger(__name__)


class Service(Protocol):
    """Something started with the runtime and stopped with it (a worker, the sandbox)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


def database_timeouts(settings: Settings) -> DatabaseTimeouts:
    """``BILLHOOK_DB_CONNECT_TIMEOUT``, ``BILLHOOK_DB_POOL_TIMEOUT``, ``BILLHOOK_DB_STATEMENT_TIMEOUT``."""
    return DatabaseTimeouts(
        connect=settings.billhook_db_connect_timeout,
        pool=settings.billhook_db_pool_timeout,
        statement=settings.billhook_db_statement_timeout,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)
    redis: aioredis.Redis | None = None
    jobs: JobRegistry = field(default_factory=JobRegistry)
    # Set by the composition root (app start-up, CLI, tests): the payment provider (reads, event
    # parsing), its actions (writes; built once, from the provider) and the mailer.
    provider: PaymentProvider | None = None
    actions: ProviderActions | None = None
    mailer: Mailer | None = None
    cache: BillhookCache | None = None
    webhook_secrets: WebhookSecrets | None = None
    sandbox: Sandbox | None = None  # the embedded offline sandbox, mounted at /sandbox
    services: list[Service] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        engine = create_engine(settings.database_url, timeouts=database_timeouts(settings))
        return cls(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            clock=clock or SystemClock(),
            redis=aioredis.from_url(settings.redis_url) if settings.redis_url else None,
        )

    async def start(self) -> None:
        if self.settings.auto_migrate:
            await migrate.upgrade(self.engine)
            log.info("database_migrated", dialect=self.engine.dialect.name)
        for service in self.services:
            await service.start()

    async def aclose(self) -> None:
        for service in reversed(self.services):
            await service.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()

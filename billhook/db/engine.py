"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


@dataclass(frozen=True, slots=True)
class DatabaseTimeouts:
    """Every wait on PostgreSQL is bounded (seconds).

    ``statement`` is enforced twice: by the server (``statement_timeout``, which cancels the
    query and frees its locks) and by the client (asyncpg's ``command_timeout``), because a
    server that is frozen or unreachable cannot enforce anything. Defaults are the settings'.
    """

    connect: float = 5.0
    pool: float = 5.0
    statement: float = 30.0

    def asyncpg_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncpg.connect``/``create_pool``."""
        return {
            "timeout": self.connect,
            "command_timeout": self.statement,
            "server_settings": {"statement_timeout": str(int(self.statement * 1000))},
        }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes writers queue up
    # instead of failing with "database is locked"; SQLite leaves foreign keys off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: DatabaseTimeouts | None = None
) -> AsyncEngine:
    # hide_parameters: a failed statement's error text never carries the values (emails, ids).
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    timeouts = timeouts or DatabaseTimeouts()
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=timeouts.pool,
        connect_args=timeouts.asyncpg_arguments(),
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

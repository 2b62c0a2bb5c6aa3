"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
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


# A pooled connection older than this is replaced at checkout: bounds the life of connections a
# NAT, firewall or pooler in between may drop silently while idle. Checked locally, no round trip.
POOL_RECYCLE_SECONDS = 1800


def _closed_connection_is_replaced(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed is swapped for a fresh one at checkout.

    Instead of ``pool_pre_ping`` (a round trip on every checkout, one per job in the outbox):
    asyncpg notices the server closing the socket (a restart, ``pg_terminate_backend``, an
    idle timeout) while the connection sits in the pool, and ``is_closed()`` only reads that
    flag. ``DisconnectionError`` makes the pool discard it and connect again (SQLAlchemy
    "Disconnect Handling - Pessimistic, custom"). A connection that dies unnoticed (no FIN, a
    frozen server) fails its statement instead, bounded by the statement timeout: SQLAlchemy
    then invalidates every connection the pool held before, and the caller's outage handling
    (503, or the worker's retry) covers that one request.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeouts: DatabaseTimeouts | None = None
) -> AsyncEngine:
    # hide_parameters: a failed statement's error text never carries the values (emails, ids).
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    timeouts = timeouts or DatabaseTimeouts()
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_timeout=timeouts.pool,
        connect_args=timeouts.asyncpg_arguments(),
    )
    event.listen(engine.sync_engine, "checkout", _closed_connection_is_replaced)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

"""What ``billhook serve`` checks before it listens, so a broken start is one line, not a traceback.

Everything a person can get wrong before the first request is tried here, in order, and turned
into a :class:`StartupError` whose message says what is wrong, which variable or file, and what
to do: the catalog file (``BILLHOOK_CATALOG``), the database (``DATABASE_URL``: reachable,
readable, migratable). Only then does the server start, and only once it accepts connections
does it say it is listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from billhook.catalog import EXAMPLE_CATALOG, catalog_path, load_catalog
from billhook.config import Settings
from billhook.db import create_engine, migrate
from billhook.errors import BillhookError

CONNECT_TIMEOUT = 10.0  # seconds; asyncpg would otherwise wait a minute for a silent host


class StartupError(Exception):
    """Start-up cannot go on; the message is the one line to print."""


@dataclass(frozen=True, slots=True)
class Preflight:
    catalog: Path | None  # the file the service sells from (None: no catalog under test settings)
    migrated_to: str | None  # the schema revision, when this start migrated

    @property
    def uses_example_catalog(self) -> bool:
        return self.catalog == EXAMPLE_CATALOG


def check_catalog(settings: Settings) -> Path | None:
    """The catalog file, parsed once now so a mistake stops start-up (CatalogError: one line)."""
    path = catalog_path(settings)
    if path is not None:
        load_catalog(path)
    return path


async def check_database(settings: Settings) -> str | None:
    """Connect (bounded in time) and, when auto-migrating, migrate; returns the revision migrated to."""
    open_sqlite_file(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StartupError(describe_database_failure(settings.database_url, exc)) from exc
        if not settings.auto_migrate:
            return None
        try:
            await migrate.upgrade(engine)
            return await migrate.current_revision(engine)
        except (SQLAlchemyError, OSError) as exc:
            raise StartupError(
                f"DATABASE_URL: migrating {_where(settings.database_url)} failed ({_reason(exc)}): "
                "check that the database is writable, or run 'billhook migrate' to see the details"
            ) from exc
    finally:
        await engine.dispose()


def open_sqlite_file(url: str) -> None:
    """Open a SQLite file with the standard library first: a missing directory or a file that is
    not a database fails here, synchronously, instead of in aiosqlite's worker thread (which can
    outlive the event loop and print a thread traceback on its way out)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    try:
        with contextlib.closing(sqlite3.connect(parsed.database)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise StartupError(describe_database_failure(url, exc)) from exc


async def preflight(settings: Settings) -> Preflight:
    catalog = check_catalog(settings)
    revision = await check_database(settings)
    return Preflight(catalog, revision)


def startup_message(exc: BaseException) -> str:
    """One line: Billhook's own errors say what to do; anything else names its type and cause."""
    if isinstance(exc, StartupError | BillhookError):
        return str(exc)
    return f"start-up failed: {type(exc).__name__}: {_reason(exc)} (LOG_LEVEL=DEBUG shows where)"


def describe_database_failure(url: str, exc: BaseException) -> str:
    """``DATABASE_URL: cannot connect to PostgreSQL at db:5432 (connection refused): …``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return (
            f"DATABASE_URL: cannot open the SQLite database {_where(url)} ({_reason(exc)}): "
            "check that the file is a Billhook database and that its directory exists and is writable"
        )
    return (
        f"DATABASE_URL: cannot connect to PostgreSQL at {_where(url)} ({_reason(exc)}): "
        "start the server or correct the host, port, user, password and database name"
    )


def _where(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _reason(exc: BaseException) -> str:
    """The root cause in a few words, without SQL, parameters or credentials."""
    root: BaseException = exc
    while True:
        nested = getattr(root, "orig", None) or root.__cause__
        if nested is None or nested is root:
            break
        root = nested
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, socket.gaierror):
        return "unknown host"
    if isinstance(root, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g}s"
    message = " ".join(str(root).split())
    if "password" in message.lower():
        return "the server refused the user or password"
    return message[:160] or type(root).__name__

"""Fixtures: every database test runs on SQLite and on PostgreSQL (tests/support/databases.py)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from billhook.config import Settings
from billhook.db import create_engine, create_session_factory
from tests.support.databases import (
    BACKENDS,
    REDIS_TEST_URL,
    PgDatabases,
    _fresh_pg,
    _migrate,
    _pg_admin,
    _pg_url,
    make_settings,
    migrated_database,
    unavailable,
)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | BaseException]:
    """A migrated PostgreSQL database that per-test databases are cloned from."""
    name = f"billhook_tmpl_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        yield exc
        return
    try:
        asyncio.run(_migrate(_pg_url(name)))
        yield name
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "billhook.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_databases(pg_template: str | BaseException) -> Iterator[PgDatabases | BaseException]:
    if isinstance(pg_template, BaseException):
        yield pg_template
        return
    databases = PgDatabases(pg_template)
    try:
        yield databases
    finally:
        asyncio.run(databases.drop_all())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_databases: PgDatabases | BaseException
) -> AsyncIterator[str]:
    """A fresh, migrated database on the current backend."""
    async with migrated_database(backend, tmp_path, sqlite_template, pg_databases) as url:
        yield url


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, for migration tests."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    try:
        name = await _fresh_pg(None)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = aioredis.from_url(REDIS_TEST_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        unavailable("Redis", exc)
    finally:
        await client.aclose()
    yield REDIS_TEST_URL


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many database tests ran (and passed) on each backend."""
    counts = {name: {"passed": 0, "failed": 0, "skipped": 0} for name in BACKENDS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            for name in BACKENDS:
                if f"[{name}" in nodeid or f"-{name}]" in nodeid or f"-{name}-" in nodeid:
                    key = "failed" if outcome == "error" else outcome
                    if report.when == "call" or outcome in ("skipped", "error"):
                        counts[name][key] += 1
    terminalreporter.write_sep("-", "database tests by backend")
    for name, tally in counts.items():
        terminalreporter.write_line(
            f"{name}: {tally['passed']} passed, {tally['failed']} failed, {tally['skipped']} skipped"
        )

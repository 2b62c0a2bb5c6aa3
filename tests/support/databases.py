"""Test databases and settings: shared by the fixtures in ``tests/conftest.py`` and by test modules.

Every database test runs on SQLite and on PostgreSQL. Each PostgreSQL test gets a migrated
database of its own: cloned from a migrated template the first time, then reused by later tests
of this process once it has been emptied and its schema checked (:class:`PgDatabases`). With
``CI=true`` an unreachable PostgreSQL or Redis fails the run; elsewhere those tests are skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from billhook.config import Settings, load_settings
from billhook.db import create_engine, migrate

POSTGRES_ADMIN_URL = os.environ.get("BILLHOOK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("BILLHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]


def unavailable(what: str, error: BaseException) -> None:
    """Fail in CI, skip elsewhere: a missing service must never pass silently in CI."""
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


def _plain_pg_url(database: str) -> str:
    """``database`` on the admin URL's server, for asyncpg."""
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{database}"


def _pg_url(database: str) -> str:
    """``database`` on the admin URL's server, for SQLAlchemy."""
    return _plain_pg_url(database).replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _fresh_pg(template: str | None) -> str:
    name = f"billhook_t_{secrets.token_hex(6)}"
    suffix = f' TEMPLATE "{template}"' if template else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{suffix}')
    return name


# What a test may not change in a database it hands back: tables, columns, indexes, constraints
# and the migration version. A database whose fingerprint differs from the template's is dropped.
_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
    SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
           || ':' || a.attnotnull AS item
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT conname || pg_get_constraintdef(oid) FROM pg_constraint
     WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'version:' || version_num FROM alembic_version
) AS schema_items
"""


class PgDatabases:
    """Migrated PostgreSQL databases for this test process, reused from test to test.

    Cloning the template costs about 0.4 s per test (files copied and synced); emptying twenty
    small tables costs a few milliseconds. A database handed back has its connections ended (as
    ``DROP … WITH (FORCE)`` would), its schema compared with the template's and every row
    deleted; one whose schema changed, or that could not be emptied, is dropped instead.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self._free: list[str] = []
        self._made: set[str] = set()
        self._fingerprint: str | None = None

    async def take(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = await self._fingerprint_of(self.template)
        if self._free:
            return self._free.pop()
        name = await _fresh_pg(self.template)
        self._made.add(name)
        return name

    async def give_back(self, name: str) -> None:
        try:
            await _pg_admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            if await self._emptied_if_unchanged(name):
                self._free.append(name)
                return
        except (OSError, asyncpg.PostgresError):
            pass
        await self._drop(name)

    async def drop_all(self) -> None:
        for name in list(self._made):
            await self._drop(name)

    async def _drop(self, name: str) -> None:
        self._made.discard(name)
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    async def _fingerprint_of(name: str) -> str:
        connection = await asyncpg.connect(_plain_pg_url(name), timeout=5)
        try:
            return str(await connection.fetchval(_SCHEMA_FINGERPRINT))
        finally:
            await connection.close()

    async def _emptied_if_unchanged(self, name: str) -> bool:
        """Delete every row if the schema is still the template's; False (untouched) otherwise."""
        connection = await asyncpg.connect(_plain_pg_url(name), timeout=5)
        try:
            if str(await connection.fetchval(_SCHEMA_FINGERPRINT)) != self._fingerprint:
                return False
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
            # DELETE, not TRUNCATE: on tables this small it is far faster (TRUNCATE makes new
            # files). Foreign-key triggers are off in this transaction, so the order does not matter.
            async with connection.transaction():
                await connection.execute("SET LOCAL session_replication_role = replica")
                for row in tables:
                    await connection.execute(f'DELETE FROM "{row["tablename"]}"')
            return True
        finally:
            await connection.close()


@asynccontextmanager
async def migrated_database(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_databases: PgDatabases | BaseException
) -> AsyncIterator[str]:
    """A fresh, migrated database on ``backend`` for the duration of the block."""
    if backend == "sqlite":
        path = tmp_path / "billhook.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if isinstance(pg_databases, BaseException):
        unavailable("PostgreSQL", pg_databases)
    assert isinstance(pg_databases, PgDatabases)
    name = await pg_databases.take()
    try:
        yield _pg_url(name)
    finally:
        await pg_databases.give_back(name)


# What production start-up requires besides an https BILLHOOK_BASE_URL (see production_problems).
PRODUCTION: dict[str, Any] = {
    "billhook_env": "production",
    "stripe_secret_key": "sk_live_" + "x" * 24,
    "stripe_webhook_secret": "whsec_" + "x" * 24,
    "billhook_support_email": "support@example.com",
}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: nothing read from a developer's ``.env``."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "billhook_env": "test",
        "billhook_secret_key": "test-secret-key-" + "x" * 32,
        "billhook_auto_migrate": False,
        "billhook_embedded_worker": False,
        **overrides,
    }
    return load_settings(env_file=None, **values)

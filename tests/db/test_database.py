from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.db import create_engine, migrate
from billhook.db.base import Base
from billhook.db.upsert import insert_ignore
from billhook.models import InboxEvent, User

CORE_TABLES = {
    "users", "customers", "payment_methods", "products", "prices", "checkout_sessions", "subscriptions",
    "invoices", "payments", "refunds", "disputes", "orders", "order_items", "bookings", "inbox_events",
    "outbox_jobs", "email_messages", "cancellation_records", "audit_entries",
}  # fmt: skip


async def test_upgrade_downgrade_upgrade_round_trips(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revision(engine) is None
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= CORE_TABLES
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_inbox_payloads_are_compressed_with_lz4_on_postgresql(database_url: str) -> None:
    """Migration 0003: lz4 (cheaper than pglz per stored event) where the server has it."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            methods = await connection.scalar(
                text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
            )
            method = await connection.scalar(
                text(
                    "SELECT attcompression::text FROM pg_attribute "
                    "WHERE attrelid = 'inbox_events'::regclass AND attname = 'payload'"
                )
            )
        assert method == ("l" if "lz4" in methods else "")
    finally:
        await engine.dispose()


async def test_datetimes_come_back_aware_in_utc(session_factory: async_sessionmaker[AsyncSession]) -> None:
    paris_noon = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    async with session_factory() as session:
        session.add(User(id="usr_time", email="time@example.com", created_at=paris_noon))
        await session.commit()
    async with session_factory() as session:
        user = await session.get_one(User, "usr_time")
    assert user.created_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert user.created_at.tzinfo is not None


async def test_naive_datetimes_are_refused(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        session.add(User(email="naive@example.com", created_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            await session.commit()


async def test_insert_ignore_stores_an_event_once(session_factory: async_sessionmaker[AsyncSession]) -> None:
    table = InboxEvent.__table__
    row = {"id": "ie_1", "event_id": "evt_1", "type": "invoice.paid", "payload": {"id": "evt_1"}}
    async with session_factory() as session:
        assert await insert_ignore(session, table, row, ["event_id"]) is True  # type: ignore[arg-type]
        again = {**row, "id": "ie_2"}
        assert await insert_ignore(session, table, again, ["event_id"]) is False  # type: ignore[arg-type]
        await session.commit()
    async with session_factory() as session:
        rows = (await session.scalars(select(InboxEvent))).all()
    assert [r.event_id for r in rows] == ["evt_1"]
    assert rows[0].payload == {"id": "evt_1"}


async def test_user_email_is_unique(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        session.add(User(email="dup@example.com"))
        await session.commit()
    async with session_factory() as session:
        session.add(User(email="dup@example.com"))
        with pytest.raises(IntegrityError):
            await session.commit()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_processes_migrating_a_new_database_at_once_all_succeed(
    empty_database_url: str, tmp_path: Path
) -> None:
    """``billhook migrate`` in three processes at once, as replicas starting together do."""
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billhook", "migrate", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]  # fmt: skip
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 60)
    assert [p.returncode for p in processes] == [0, 0, 0], [out.decode()[-500:] for out, _ in outputs]
    engine = create_engine(empty_database_url)
    try:
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()

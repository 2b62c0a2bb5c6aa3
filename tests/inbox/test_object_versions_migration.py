"""Migration 0006: a database that mirrored objects before versions existed gets a floor version;
a fresh one does not (its objects all get versions as they are applied)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from billhook.db import create_engine, create_session_factory, migrate
from billhook.models import ObjectVersion
from billhook.models.object_versions import VERSION_FLOOR


async def floor_after_upgrade(url: str, *, with_an_event: bool) -> datetime | None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, "0005")
        if with_an_event:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO inbox_events (id, event_id, type, livemode, source, payload,"
                        " status, attempts, next_attempt_at, received_at) VALUES ('ie_1', 'evt_1',"
                        " 'customer.created', false, 'webhook', '{}', 'processed', 1, :at, :at)"
                    ),
                    {"at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
                )
        await migrate.upgrade(engine)
        async with create_session_factory(engine)() as session:
            row = await session.scalar(
                select(ObjectVersion).where(
                    ObjectVersion.kind == VERSION_FLOOR[0], ObjectVersion.object_id == VERSION_FLOOR[1]
                )
            )
        return row.applied_at if row else None
    finally:
        await engine.dispose()


async def test_a_database_with_events_gets_a_floor_at_the_upgrade(empty_database_url: str) -> None:
    before = datetime.now(UTC)

    floor = await floor_after_upgrade(empty_database_url, with_an_event=True)

    assert floor is not None and before <= floor <= datetime.now(UTC)


async def test_a_fresh_database_has_no_floor(empty_database_url: str) -> None:
    assert await floor_after_upgrade(empty_database_url, with_an_event=False) is None

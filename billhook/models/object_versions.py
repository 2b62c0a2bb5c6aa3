"""Per-object versions of the mirror's provider state (see :class:`ObjectVersion`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import String, case, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base
from billhook.db.types import UTCDateTime
from billhook.db.upsert import session_insert
from billhook.kit.clock import utcnow

ObjectKey = tuple[str, str]  # (kind, provider id): ("subscription", "sub_…")
# A row for no object: when versions began to be kept in a database that already mirrored
# objects (migration 0006). Those objects' states are older than it, so no version of theirs is
# missing for an event newer than it; an event older than it proves nothing.
VERSION_FLOOR: ObjectKey = ("*", "*")


class ObjectVersion(Base):
    """Per provider object, how new the newest state of it the mirror has applied is.

    ``applied_at`` bounds from above the moment the applied state was read: for a state fetched
    from the provider, a time after the fetch answered; for an event's snapshot applied instead of
    a fetch, the event's ``created``. The inbox applies a snapshot only when its event is newer
    than this (plus a margin for clock skew), so a late, older snapshot never overwrites a newer
    state (``billhook/inbox/README.md``). Every path that writes a mirror row from provider state
    of a kind the inbox may apply from snapshots records a version here, in its transaction.
    """

    __tablename__ = "object_versions"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


async def versions_of(session: AsyncSession, keys: Iterable[ObjectKey]) -> dict[ObjectKey, datetime]:
    """The stored versions of ``keys`` (one ``SELECT``); unknown objects are left out."""
    wanted = set(keys)
    if not wanted:
        return {}
    statement = select(ObjectVersion.kind, ObjectVersion.object_id, ObjectVersion.applied_at).where(
        ObjectVersion.object_id.in_({object_id for _kind, object_id in wanted})
    )
    rows = (await session.execute(statement)).all()
    return {(kind, object_id): at for kind, object_id, at in rows if (kind, object_id) in wanted}


async def record_versions(
    session: AsyncSession, versions: Mapping[ObjectKey, datetime]
) -> dict[ObjectKey, datetime]:
    """Raise each object's version to at least the given time (one multi-row upsert that keeps
    the greater), in the caller's transaction; returns the versions now stored. Rows go in key
    order, so two transactions that record the same objects lock them in the same order."""
    if not versions:
        return {}
    rows = [
        {"kind": kind, "object_id": object_id, "applied_at": at}
        for (kind, object_id), at in sorted(versions.items())
    ]
    statement = session_insert(session)(ObjectVersion).values(rows)
    newer = statement.excluded.applied_at
    current = ObjectVersion.__table__.c.applied_at
    upsert = statement.on_conflict_do_update(
        index_elements=["kind", "object_id"],
        set_={"applied_at": case((newer > current, newer), else_=current)},
    ).returning(ObjectVersion.kind, ObjectVersion.object_id, ObjectVersion.applied_at)
    stored = (await session.execute(upsert)).all()
    return {(kind, object_id): at for kind, object_id, at in stored}


async def record_applied(session: AsyncSession, *objects: tuple[str, str | None]) -> None:
    """For writers outside the inbox (the API's actions, the checkout success page): the
    objects just written from the provider's answer are at least as new as now. Call it after
    the provider answered; ids that are ``None`` are skipped."""
    now = utcnow()
    await record_versions(session, {(kind, object_id): now for kind, object_id in objects if object_id})


async def prune_versions(session: AsyncSession, now: datetime, keep: timedelta, limit: int) -> int:
    """Delete up to ``limit`` versions older than ``keep``, first raising the floor to that age.

    The floor stands for every object without a row, so no guard weakens: an event is applied
    from its snapshot only when newer than ``max(its object's version, floor)``, and a deleted
    version was older than the floor that replaces it. Events older than the cutoff are fetched.
    Both changes commit together (the caller's transaction).
    """
    cutoff = now - keep
    await record_versions(session, {VERSION_FLOOR: cutoff})
    oldest = (
        select(ObjectVersion.kind, ObjectVersion.object_id)
        .where(ObjectVersion.applied_at < cutoff, ObjectVersion.kind != VERSION_FLOOR[0])
        .limit(limit)
    )
    result = await session.execute(
        delete(ObjectVersion)
        .where(tuple_(ObjectVersion.kind, ObjectVersion.object_id).in_(oldest))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

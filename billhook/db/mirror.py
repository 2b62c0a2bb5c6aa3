"""The mirror upsert: finding or creating a row by its provider id, safely under concurrent workers.

Every domain that mirrors a provider object (customers, subscriptions, invoices, payments, checkout
sessions) goes through :func:`get_or_create` and reports what it did as a :class:`SyncResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore

Row = TypeVar("Row")
# {"status": ["active", "canceled"], ...}: old and new value of each changed column.
Changes = dict[str, list[Any]]


@dataclass
class SyncResult(Generic[Row]):
    """What a mirror sync did: the row, whether it is new, and which columns changed."""

    row: Row
    created: bool = False
    changes: Changes = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


async def find(
    session: AsyncSession, model: type[Row], stripe_id: str, *, lock: bool = False, column: str = "stripe_id"
) -> Row | None:
    """The row whose provider id (``column``) is ``stripe_id``; locked for update on PostgreSQL."""
    statement = select(model).where(getattr(model, column) == stripe_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return (await session.scalars(statement)).first()


async def get_or_create(
    session: AsyncSession,
    model: type[Row],
    stripe_id: str,
    defaults: dict[str, Any],
    *,
    column: str = "stripe_id",
) -> tuple[Row, bool]:
    """The row for ``stripe_id`` (locked on PostgreSQL), inserting it from ``defaults`` if absent.

    ``INSERT … ON CONFLICT DO NOTHING`` makes two workers creating the same row agree on one.
    """
    row = await find(session, model, stripe_id, lock=True, column=column)
    if row is not None:
        return row, False
    table: Table = model.__table__  # type: ignore[attr-defined]
    created = await insert_ignore(session, table, {column: stripe_id, **defaults}, [column])
    row = await find(session, model, stripe_id, lock=True, column=column)
    assert row is not None
    return row, created

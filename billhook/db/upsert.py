"""Dialect-aware ``INSERT … ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignore(
    session: AsyncSession,
    table: Table,
    values: Mapping[str, Any],
    conflict_columns: Sequence[str] | None,
) -> bool:
    """Insert a row unless one with the same ``conflict_columns`` exists. True if inserted.

    ``None`` makes every unique constraint of the table an arbiter. Use it when a row has
    several unique keys that concurrent writers may collide on: with one named target,
    PostgreSQL still raises a unique violation for a collision on any other key.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    targets = list(conflict_columns) if conflict_columns else None
    returned = table.c[targets[0]] if targets else table.primary_key.columns.values()[0]
    statement = (
        insert(table).values(**values).on_conflict_do_nothing(index_elements=targets).returning(returned)
    )
    result = await session.execute(statement)
    return result.first() is not None

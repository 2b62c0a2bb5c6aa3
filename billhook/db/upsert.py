"""Dialect-aware ``INSERT … ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(dialect: str) -> Any:
    """The ``insert`` construct with ``ON CONFLICT`` for ``dialect`` (PostgreSQL's, else SQLite's)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def session_insert(session: AsyncSession) -> Any:
    """:func:`dialect_insert` for the database ``session`` is bound to."""
    return dialect_insert(session.get_bind().dialect.name)


# One statement per table, conflict target and dialect, built once: the values go in as
# parameters, so a hot caller (every outbox job enqueued) neither rebuilds it nor its cache key.
_STATEMENTS: dict[tuple[Table, tuple[str, ...] | None, str], Insert] = {}


def _statement(table: Table, targets: tuple[str, ...] | None, dialect: str) -> Insert:
    statement = _STATEMENTS.get((table, targets, dialect))
    if statement is None:
        insert = dialect_insert(dialect)
        returned = table.c[targets[0]] if targets else table.primary_key.columns.values()[0]
        statement = insert(table).on_conflict_do_nothing(index_elements=targets).returning(returned)
        _STATEMENTS[table, targets, dialect] = statement
    return statement


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
    targets = tuple(conflict_columns) if conflict_columns else None
    statement = _statement(table, targets, session.get_bind().dialect.name)
    result = await session.execute(statement, dict(values))
    return result.first() is not None

"""The mirror upsert: finding or creating a row by its provider id, safely under concurrent workers.

Every domain that mirrors a provider object (customers, subscriptions, invoices, payments, checkout
sessions) goes through :func:`get_or_create` and reports what it did as a :class:`SyncResult`.

Rows found are remembered for the rest of the session's transaction: the inbox worker applies a
customer's events in one transaction, where one customer row is looked up by every handler (its
subscription, invoice, payment and payment method each link to it). A row remembered as locked is
locked until the transaction ends, and a plain ``SELECT`` of a row already in the session returns
that very object without refreshing it, so answering from memory returns what the query would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Insert, Select, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import dialect_insert

Row = TypeVar("Row")
# {"status": ["active", "canceled"], ...}: old and new value of each changed column.
Changes = dict[str, list[Any]]
# (model, column, provider id) -> (row, locked for update)
_Found = dict[tuple[type[Any], str, str], tuple[Any, bool]]

_FOUND = "billhook.mirror.found"


@dataclass
class SyncResult(Generic[Row]):
    """What a mirror sync did: the row, whether it is new, and which columns changed."""

    row: Row
    created: bool = False
    changes: Changes = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changes)


def transaction_memo(session: AsyncSession, name: str) -> dict[Any, Any] | None:
    """A dict kept in the session for its current transaction only (None outside one): what
    this transaction already looked up or applied, forgotten at commit or rollback."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return None
    kept = session.info.get(name)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, {})
        session.info[name] = kept
    memo: dict[Any, Any] = kept[1]
    return memo


def _found(session: AsyncSession) -> _Found | None:
    """The rows found in the session's current transaction (None outside one)."""
    return transaction_memo(session, _FOUND)


def _remembered(session: AsyncSession, key: tuple[type[Any], str, str], lock: bool) -> Any | None:
    found = _found(session)
    if found is None or key not in found:
        return None
    row, locked = found[key]
    state = inspect(row)
    # Still this session's, fully loaded (a rolled-back savepoint expires or expunges rows), with
    # the same provider id (a payment's charge id is filled in later), and locked if asked to be.
    if (
        (locked or not lock)
        and state.persistent
        and not state.expired_attributes
        and getattr(row, key[1]) == key[2]
    ):
        return row
    return None


def _remember(session: AsyncSession, key: tuple[type[Any], str, str], row: Any, locked: bool) -> None:
    found = _found(session)
    if found is not None:
        found[key] = (row, locked)


# Built once per model, column and lock or dialect: lookups are a hot path (several per event).
_SELECTS: dict[tuple[type[Any], str, bool], Select[Any]] = {}
_INSERTS: dict[tuple[type[Any], str, str], Insert] = {}


def _select(model: type[Any], column: str, lock: bool) -> Select[Any]:
    statement = _SELECTS.get((model, column, lock))
    if statement is None:
        statement = select(model).where(getattr(model, column) == bindparam("stripe_id"))
        statement = _SELECTS[model, column, lock] = statement.with_for_update() if lock else statement
    return statement


def _insert(model: type[Any], column: str, dialect: str) -> Insert:
    statement = _INSERTS.get((model, column, dialect))
    if statement is None:
        insert = dialect_insert(dialect)(model)
        statement = insert.on_conflict_do_nothing(index_elements=[column]).returning(model)
        _INSERTS[model, column, dialect] = statement
    return statement


def _locks(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def find(
    session: AsyncSession, model: type[Row], stripe_id: str, *, lock: bool = False, column: str = "stripe_id"
) -> Row | None:
    """The row whose provider id (``column``) is ``stripe_id``; locked for update on PostgreSQL."""
    lock = lock and _locks(session)
    key = (model, column, stripe_id)
    row: Row | None = _remembered(session, key, lock)
    if row is not None:
        return row
    row = (await session.scalars(_select(model, column, lock), {"stripe_id": stripe_id})).first()
    if row is not None:
        _remember(session, key, row, lock or not _locks(session))
    return row


async def get_or_create(
    session: AsyncSession,
    model: type[Row],
    stripe_id: str,
    defaults: dict[str, Any],
    *,
    column: str = "stripe_id",
) -> tuple[Row, bool]:
    """The row for ``stripe_id`` (locked on PostgreSQL), inserting it from ``defaults`` if absent.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` makes two workers creating the same row agree
    on one; the row inserted comes back from the insert itself (a row this transaction inserted
    is locked by it until commit), the one another worker inserted first is read and locked.
    """
    row = await find(session, model, stripe_id, lock=True, column=column)
    if row is not None:
        return row, False
    statement = _insert(model, column, session.get_bind().dialect.name)
    row = (await session.scalars(statement, {column: stripe_id, **defaults})).first()
    if row is not None:
        _remember(session, (model, column, stripe_id), row, True)
        return row, True
    row = await find(session, model, stripe_id, lock=True, column=column)
    assert row is not None
    return row, False

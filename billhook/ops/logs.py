"""``billhook logs``: the billing event log (``audit_entries``), newest last, one line each.

Filters: since a moment, a type glob matched against the provider event type *and* the action
(``invoice.*``, ``payment.*``), and a customer's email (the user's entries and their provider
customers'). ``follow`` polls for entries after the last one shown, in the order they happened.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.errors import NotFound
from billhook.models import AuditEntry, Customer, User


@dataclass(frozen=True, slots=True)
class LogFilter:
    since: datetime | None = None
    type_glob: str | None = None
    user_ids: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    limit: int = 500


async def filter_for(
    session: AsyncSession,
    *,
    since: datetime | None,
    type_glob: str | None,
    email: str | None,
    limit: int = 500,
) -> LogFilter:
    """Resolve ``email`` to its user and customers: an unknown email is :class:`NotFound`."""
    if email is None:
        return LogFilter(since, type_glob, limit=limit)
    address = email.strip().lower()
    users = tuple((await session.scalars(select(User.id).where(User.email == address))).all())
    customers = tuple(
        (
            await session.scalars(
                select(Customer.id).where(or_(Customer.email == address, Customer.user_id.in_(users)))
            )
        ).all()
    )
    if not users and not customers:
        raise NotFound(f"no customer with email {address}")
    return LogFilter(since, type_glob, users, customers, limit)


def _query(spec: LogFilter) -> Select[Any]:
    query = select(AuditEntry)
    if spec.since is not None:
        query = query.where(AuditEntry.occurred_at >= spec.since)
    if spec.user_ids or spec.customer_ids:
        query = query.where(
            or_(AuditEntry.user_id.in_(spec.user_ids), AuditEntry.customer_id.in_(spec.customer_ids))
        )
    if spec.type_glob:
        # A cheap prefix in SQL; the exact glob in Python (SQL LIKE has no portable escaping of '*').
        prefix = spec.type_glob.split("*", 1)[0].split("?", 1)[0]
        if prefix:
            query = query.where(
                or_(AuditEntry.event_type.startswith(prefix), AuditEntry.action.startswith(prefix))
            )
    return query


def matches(spec: LogFilter, entry: AuditEntry) -> bool:
    if not spec.type_glob:
        return True
    return any(
        fnmatch.fnmatchcase(value, spec.type_glob) for value in (entry.event_type, entry.action) if value
    )


async def recent(session: AsyncSession, spec: LogFilter) -> list[AuditEntry]:
    """The newest ``limit`` matching entries, oldest first (so the newest is the last line)."""
    query = _query(spec).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    found = [e for e in (await session.scalars(query.limit(spec.limit * 4))).all() if matches(spec, e)]
    return list(reversed(found[: spec.limit]))


async def after(session: AsyncSession, spec: LogFilter, last: AuditEntry | None) -> list[AuditEntry]:
    query = _query(spec)
    if last is not None:
        query = query.where(
            or_(
                AuditEntry.occurred_at > last.occurred_at,
                and_(AuditEntry.occurred_at == last.occurred_at, AuditEntry.id > last.id),
            )
        )
    rows = await session.scalars(query.order_by(AuditEntry.occurred_at, AuditEntry.id).limit(1000))
    return [e for e in rows.all() if matches(spec, e)]


async def follow(
    factory: async_sessionmaker[AsyncSession],
    spec: LogFilter,
    last: AuditEntry | None,
    *,
    poll_seconds: float = 1.0,
    stop: Callable[[], bool] = lambda: False,
) -> AsyncIterator[AuditEntry]:
    """Entries after ``last`` as they are written, until ``stop()`` is true."""
    while not stop():
        async with factory() as session:
            fresh = await after(session, spec, last)
        for entry in fresh:
            last = entry
            yield entry
        if not fresh:
            await asyncio.sleep(poll_seconds)


def _change(name: str, value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{name} {value[0]}→{value[1]}"
    return f"{name}={value}"


def entry_line(entry: AuditEntry) -> str:
    """One line: time, causing event type, action, subject, what changed, actor.

    ``2026-01-01T10:00:00Z  invoice.paid  payment.synced  payment pi_1  status PENDING→SUCCEEDED  (webhook)``
    """
    when = entry.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    changes = ", ".join(_change(k, v) for k, v in sorted((entry.changes or {}).items()))
    what = changes or entry.message or "no change"
    cause = entry.event_type or "-"
    subject = f"{entry.subject_type} {entry.subject_id}"
    return f"{when}  {cause:<28} {entry.action:<26} {subject}  {what}  ({entry.actor})"


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "occurred_at": entry.occurred_at.isoformat(),
        "action": entry.action,
        "event_type": entry.event_type,
        "event_id": entry.event_id,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "actor": entry.actor,
        "customer_id": entry.customer_id,
        "user_id": entry.user_id,
        "changes": entry.changes,
        "message": entry.message,
    }

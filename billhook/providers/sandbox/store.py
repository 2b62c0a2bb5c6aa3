"""The sandbox's own tables and its unit of work.

Objects are kept as JSON documents (exactly what the API returns, plus private ``_`` keys) with a
few indexed columns to query by. One ``asyncio.Lock`` serialises transactions: the sandbox is one
process and its requests are short, so this is simpler and safer than row locking on SQLite.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import (
    event as sa_event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement

from .config import API_VERSION, DAY, SandboxConfig
from .errors import ResourceMissing
from .ids import new_id
from .timers import due_at

Doc = dict[str, Any]

tables = MetaData()

objects = Table(
    "sandbox_objects",
    tables,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(255), unique=True, nullable=False),
    Column("object", String(64), index=True, nullable=False),
    Column("customer", String(255), index=True),
    Column("lookup", String(255), index=True),
    Column("parent", String(255), index=True),
    Column("due_at", BigInteger, index=True),
    Column("data", JSON, nullable=False),
)

events = Table(
    "sandbox_events",
    tables,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(255), unique=True, nullable=False),
    Column("type", String(128), index=True, nullable=False),
    Column("created", BigInteger, index=True, nullable=False),
    Column("data", JSON, nullable=False),
    # Sandbox time from which the 30-day retention counts: when the event was delivered to every
    # endpoint owed it, or when it was due (no endpoint wanted it). NULL while a delivery is owed,
    # so no event is purged before it reaches its endpoints however far the clock jumps.
    Column("kept_from", BigInteger, index=True),
)

idempotency_keys = Table(
    "sandbox_idempotency_keys",
    tables,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created", BigInteger, nullable=False),
)

deliveries = Table(
    "sandbox_webhook_deliveries",
    tables,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(255), index=True, nullable=False),
    Column("url", Text, nullable=False),
    Column("event_id", String(255), index=True, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("state", String(16), index=True, nullable=False),  # pending, succeeded, failed, dropped
    Column("status_code", Integer),
    Column("error", Text),
    Column("due_at", Float, index=True, nullable=False),
    Column("finished_at", Float),
)

state = Table(
    "sandbox_state",
    tables,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

EventPlanner = Callable[["Tx", Doc], Awaitable[int]]


def public(doc: Doc) -> Doc:
    """A deep copy without the private ``_`` keys: what the API may show."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}


def _lookup_of(doc: Doc) -> str | None:
    if doc["object"] == "price":
        return doc.get("lookup_key")
    if doc["object"] == "customer":
        return doc.get("email")
    return None


def _retained(since: int) -> ColumnElement[bool]:
    return or_(events.c.kept_from.is_(None), events.c.kept_from >= since)


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    """WAL and normal sync: the sandbox commits after every request, and its state is test data."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _add_missing_columns(connection: Connection) -> None:
    """Bring a sandbox database made by an older Billhook up to date: ``create_all`` makes missing
    tables but not the nullable columns added since (the sandbox has no migrations of its own)."""
    inspector = inspect(connection)
    for table in tables.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=connection.dialect)
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


class Store:
    """Owns the engine, the lock and the sandbox clock offset."""

    def __init__(self, config: SandboxConfig) -> None:
        options: dict[str, Any] = {}
        if ":memory:" in config.database_url:
            options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        self.config = config
        self.engine: AsyncEngine = create_async_engine(config.database_url, **options)
        if self.engine.dialect.name == "sqlite":
            sa_event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.lock = asyncio.Lock()
        self.clock_offset = 0
        self.planner: EventPlanner | None = None
        self.after_commit: Callable[[], None] | None = None

    async def create_tables(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(tables.create_all)
            await conn.run_sync(_add_missing_columns)
        async with self.transaction() as tx:
            self.clock_offset = int(await tx.get_state("clock_offset", 0))

    async def drop_all(self) -> None:
        async with self.lock, self.engine.begin() as conn:
            for table in reversed(tables.sorted_tables):
                await conn.execute(delete(table))
        self.clock_offset = 0

    async def dispose(self) -> None:
        await self.engine.dispose()

    def now(self) -> int:
        return int(time.time()) + self.clock_offset

    @asynccontextmanager
    async def transaction(
        self, request_id: str | None = None, idempotency_key: str | None = None
    ) -> AsyncIterator[Tx]:
        async with self.lock:
            async with self.engine.begin() as conn:
                tx = Tx(self, conn, request_id, idempotency_key)
                yield tx
            if tx.emitted and self.after_commit is not None:
                self.after_commit()


class Tx:
    """One transaction: an identity map of documents, plus event emission."""

    def __init__(
        self, store: Store, conn: AsyncConnection, request_id: str | None, idempotency_key: str | None
    ) -> None:
        self.store = store
        self.conn = conn
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self.config = store.config
        self.emitted = 0
        self._docs: dict[str, Doc] = {}
        self._known: set[str] = set()
        # A test clock's frozen time while this transaction acts for one of its customers.
        self.frozen: int | None = None

    def now(self) -> int:
        return self.frozen if self.frozen is not None else self.store.now()

    async def get(self, object_id: str) -> Doc | None:
        if object_id in self._docs:
            return self._docs[object_id]
        row = (await self.conn.execute(select(objects.c.data).where(objects.c.id == object_id))).first()
        if row is None:
            return None
        doc: Doc = dict(row[0])
        self._docs[object_id] = doc
        self._known.add(object_id)
        return doc

    async def load(self, kind: str, object_id: str, *, param: str = "id", label: str | None = None) -> Doc:
        """The live object of that kind, or Stripe's 404 ``resource_missing`` naming ``param``."""
        doc = await self.get(object_id)
        if doc is None or doc["object"] != kind or doc.get("deleted"):
            raise ResourceMissing(label or kind, object_id, param=param)
        return doc

    async def put(self, doc: Doc) -> Doc:
        customer = doc.get("customer")
        values = {
            "object": doc["object"],
            "customer": customer if isinstance(customer, str) else None,
            "lookup": _lookup_of(doc),
            "parent": doc.get("_parent"),
            "due_at": due_at(doc),
            "data": doc,
        }
        if doc["id"] in self._known or await self._exists(doc["id"]):
            await self.conn.execute(update(objects).where(objects.c.id == doc["id"]).values(**values))
        else:
            await self.conn.execute(insert(objects).values(id=doc["id"], **values))
        self._docs[doc["id"]] = doc
        self._known.add(doc["id"])
        return doc

    async def _exists(self, object_id: str) -> bool:
        row = await self.conn.execute(select(objects.c.seq).where(objects.c.id == object_id))
        return row.first() is not None

    async def find(
        self,
        kind: str,
        *,
        customer: str | None = None,
        lookup: str | None = None,
        parent: str | None = None,
    ) -> list[Doc]:
        """Objects of one kind, newest first (Stripe's list order)."""
        query = select(objects.c.id, objects.c.data).where(objects.c.object == kind)
        if customer is not None:
            query = query.where(objects.c.customer == customer)
        if lookup is not None:
            query = query.where(objects.c.lookup == lookup)
        if parent is not None:
            query = query.where(objects.c.parent == parent)
        rows = await self.conn.execute(query.order_by(objects.c.seq.desc()))
        found = []
        for object_id, data in rows:
            found.append(self._docs.setdefault(object_id, dict(data)))
            self._known.add(object_id)
        return found

    async def next_due(
        self, until: int, *, only: Collection[str] | None = None, skip: Collection[str] = ()
    ) -> Doc | None:
        """The earliest object due by ``until``; ``only``/``skip`` restrict it by customer id
        (a test clock's customers are moved by their clock, not by the sandbox's clock)."""
        query = (
            select(objects.c.id)
            .where(objects.c.due_at.is_not(None), objects.c.due_at <= until)
            .order_by(objects.c.due_at, objects.c.seq)
            .limit(1)
        )
        if only is not None:
            query = query.where(objects.c.customer.in_(list(only)))
        if skip:
            query = query.where(or_(objects.c.customer.is_(None), objects.c.customer.not_in(list(skip))))
        row = (await self.conn.execute(query)).first()
        return None if row is None else await self.get(row[0])

    # events

    async def emit(self, event_type: str, obj: Doc, previous: Doc | None = None) -> Doc:
        data: Doc = {"object": public(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: Doc = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": self.request_id, "idempotency_key": self.idempotency_key},
            "type": event_type,
        }
        if self.store.planner is not None:
            event["pending_webhooks"] = await self.store.planner(self, event)
        owed = await self.deliveries_owed(event["id"])
        await self.conn.execute(
            insert(events).values(
                id=event["id"],
                type=event_type,
                created=event["created"],
                data=event,
                kept_from=None if owed else event["created"],
            )
        )
        self.emitted += 1
        return event

    async def emit_update(self, event_type: str, obj: Doc, before: Doc) -> Doc | None:
        """Emit ``*.updated`` with ``previous_attributes`` holding the old value of each changed key."""
        after = public(obj)
        previous = {k: v for k, v in before.items() if after.get(k) != v}
        if not previous:
            return None
        return await self.emit(event_type, obj, previous)

    async def deliveries_owed(self, event_id: str) -> bool:
        """Whether some endpoint still waits for this event (a delivery pending or retrying)."""
        query = select(deliveries.c.seq).where(
            deliveries.c.event_id == event_id, deliveries.c.state == "pending"
        )
        return (await self.conn.execute(query.limit(1))).first() is not None

    async def settle_event(self, event_id: str) -> None:
        """Start the retention of an event no endpoint waits for any more, at the sandbox's now."""
        if await self.deliveries_owed(event_id):
            return
        await self.conn.execute(
            update(events)
            .where(events.c.id == event_id, events.c.kept_from.is_(None))
            .values(kept_from=self.now())
        )

    def retention_start(self) -> int:
        """Events whose retention began before this sandbox time have expired."""
        return self.now() - self.config.event_retention_days * DAY

    async def list_events(self, type_pattern: str | None, created: dict[str, int]) -> list[Doc]:
        query = select(events.c.data).where(_retained(self.retention_start()))
        if type_pattern is not None:
            if type_pattern.endswith("*"):
                query = query.where(events.c.type.like(type_pattern[:-1] + "%"))
            else:
                query = query.where(events.c.type == type_pattern)
        bounds = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
        for op, value in created.items():
            query = query.where(getattr(events.c.created, bounds[op])(value))
        rows = await self.conn.execute(query.order_by(events.c.seq.desc()))
        return [dict(row[0]) for row in rows]

    async def get_event(self, event_id: str, *, expired: bool = False) -> Doc | None:
        """The stored event; with ``expired=False`` (the API's view) only while it is retained."""
        query = select(events.c.data).where(events.c.id == event_id)
        if not expired:
            query = query.where(_retained(self.retention_start()))
        row = (await self.conn.execute(query)).first()
        return None if row is None else dict(row[0])

    async def purge_events(self) -> None:
        """Forget the events whose retention has run out; never one still owed to an endpoint."""
        await self.conn.execute(delete(events).where(events.c.kept_from < self.retention_start()))

    # key-value state and idempotency

    async def get_state(self, key: str, default: Any) -> Any:
        row = (await self.conn.execute(select(state.c.value).where(state.c.key == key))).first()
        return default if row is None else row[0]

    async def set_state(self, key: str, value: Any) -> None:
        exists = (await self.conn.execute(select(func.count()).where(state.c.key == key))).scalar_one()
        if exists:
            await self.conn.execute(update(state).where(state.c.key == key).values(value=value))
        else:
            await self.conn.execute(insert(state).values(key=key, value=value))

    async def idempotent_response(self, key: str) -> tuple[str, int, Doc] | None:
        query = select(idempotency_keys.c.fingerprint, idempotency_keys.c.status, idempotency_keys.c.body)
        row = (await self.conn.execute(query.where(idempotency_keys.c.key == key))).first()
        return None if row is None else (row[0], row[1], dict(row[2]))

    async def remember_response(self, key: str, fingerprint: str, status: int, body: Doc) -> None:
        await self.conn.execute(
            insert(idempotency_keys).values(
                key=key, fingerprint=fingerprint, status=status, body=body, created=self.now()
            )
        )

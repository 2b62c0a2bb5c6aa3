"""``SharedFetches``: one provider read per object for all the events applied together.

The worker claims the pending events of one ordering key (a customer) together and applies them
in one transaction, oldest first. Every one of them was received before the claim, so an object
fetched after the claim already reflects all of them: the first handler that asks for an object
fetches it, the others get the same copy. Concurrent asks for one object (``asyncio.gather`` in
a handler) share one request too. Nothing is kept once the group commits: the next group fetches
again, so the mirror never gets a copy older than one fetched after its events arrived.

Failed reads are not kept: the next ask tries again.

An object may also be *seeded* with an event's snapshot instead of being fetched, when the
worker has proven that snapshot the newest state known of it (see ``worker.py``,
``SNAPSHOT_KINDS``): every ask for it in the group then gets the snapshot, as if fetched.

Across groups, :class:`HighWaterMarks` remembers, per object, since when a fetched state of it
has been applied: an event created before that (less a margin for clock skew) is already
reflected in the mirror and is marked processed without a fetch.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from billhook.providers.base import (
    EventPage,
    PaymentProvider,
    ProviderCharge,
    ProviderCheckoutSession,
    ProviderCustomer,
    ProviderDispute,
    ProviderEvent,
    ProviderInvoice,
    ProviderPaymentIntent,
    ProviderPaymentMethod,
    ProviderRefund,
    ProviderSetupIntent,
    ProviderSubscription,
)

T = TypeVar("T")


class SharedFetches:
    """A :class:`PaymentProvider` whose reads are shared by the events of one claimed group."""

    def __init__(self, provider: PaymentProvider, since: datetime) -> None:
        self._provider = provider
        self._reads: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._seeded: dict[tuple[str, str], datetime] = {}  # read → its snapshot's event time
        self.calls = 0  # reads that went to the provider
        self.since = since  # every read here was made after this moment

    def fetched(self, read: tuple[str, str]) -> bool:
        """Whether ``read`` (``(kind, object id)``) was fetched successfully here (not seeded)."""
        done = self._reads.get(read)
        return (
            read not in self._seeded
            and done is not None
            and done.done()
            and not done.cancelled()
            and done.exception() is None
        )

    def seed(self, read: tuple[str, str], obj: object, at: datetime) -> None:
        """Answer ``read`` with ``obj``, an event's snapshot of time ``at``, instead of fetching."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        answer.set_result(obj)
        self._reads[read] = answer
        self._seeded[read] = at

    def unseed(self) -> None:
        """Forget every seed: the next ask for those objects fetches (unless seeded again)."""
        for read in self._seeded:
            self._reads.pop(read, None)
        self._seeded.clear()

    @property
    def seeded(self) -> dict[tuple[str, str], datetime]:
        return dict(self._seeded)

    def versions(self, kinds: frozenset[str], now: datetime) -> dict[tuple[str, str], datetime]:
        """How new the state of each object read here is, for the kinds in ``kinds``: a seeded
        one is its event's time; a fetched one is at most ``now`` (taken after the fetch)."""
        found = {read: now for read in self._reads if read[0] in kinds and self.fetched(read)}
        found.update({read: at for read, at in self._seeded.items() if read[0] in kinds})
        return found

    async def _once(self, kind: str, object_id: str, read: Callable[[str], Awaitable[T]]) -> T:
        key = (kind, object_id)
        shared = self._reads.get(key)
        if shared is None:
            shared = self._reads[key] = asyncio.ensure_future(read(object_id))
            self.calls += 1
        try:
            result: T = await asyncio.shield(shared)
        except Exception:
            if self._reads.get(key) is shared:
                del self._reads[key]
            raise
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    async def aclose(self) -> None:
        """The provider belongs to the runtime; nothing of ours to close."""

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        return self._provider.parse_event(payload)

    async def get_customer(self, customer_id: str) -> ProviderCustomer:
        return await self._once("customer", customer_id, self._provider.get_customer)

    async def get_payment_method(self, payment_method_id: str) -> ProviderPaymentMethod:
        return await self._once("payment_method", payment_method_id, self._provider.get_payment_method)

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription:
        return await self._once("subscription", subscription_id, self._provider.get_subscription)

    async def get_invoice(self, invoice_id: str) -> ProviderInvoice:
        return await self._once("invoice", invoice_id, self._provider.get_invoice)

    async def get_payment_intent(self, payment_intent_id: str) -> ProviderPaymentIntent:
        return await self._once("payment_intent", payment_intent_id, self._provider.get_payment_intent)

    async def get_charge(self, charge_id: str) -> ProviderCharge:
        return await self._once("charge", charge_id, self._provider.get_charge)

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        return await self._once("refund", refund_id, self._provider.get_refund)

    async def get_dispute(self, dispute_id: str) -> ProviderDispute:
        return await self._once("dispute", dispute_id, self._provider.get_dispute)

    async def get_checkout_session(self, session_id: str) -> ProviderCheckoutSession:
        return await self._once("checkout_session", session_id, self._provider.get_checkout_session)

    async def get_setup_intent(self, setup_intent_id: str) -> ProviderSetupIntent:
        return await self._once("setup_intent", setup_intent_id, self._provider.get_setup_intent)

    async def retrieve_event(self, event_id: str) -> ProviderEvent:
        return await self._provider.retrieve_event(event_id)

    async def list_events(
        self,
        *,
        created_gte: datetime | None = None,
        starting_after: str | None = None,
        types: list[str] | None = None,
        limit: int = 100,
    ) -> EventPage:
        return await self._provider.list_events(
            created_gte=created_gte, starting_after=starting_after, types=types, limit=limit
        )


# What a handler reads besides the event's own object, by the snapshot field naming it: fetched
# together with the group's objects instead of one after another inside the handler.
_RELATED: dict[str, tuple[tuple[str, str], ...]] = {
    "invoice": (("subscription", "subscription"), ("payment_intent", "payment_intent")),
    "checkout.session": (
        ("customer", "customer"),
        ("subscription", "subscription"),
        ("payment_intent", "payment_intent"),
    ),
    "payment_intent": (("latest_charge", "charge"),),
    "charge": (("payment_intent", "payment_intent"),),
    "dispute": (("charge", "charge"),),
    "refund": (("charge", "charge"),),
}
_READ_OF_TYPE = {
    "invoice": "invoice",
    "checkout.session": "checkout_session",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "dispute": "dispute",
    "refund": "refund",
    "subscription": "subscription",
    "customer": "customer",
    "setup_intent": "setup_intent",
    "payment_method": "payment_method",
}


def _ref(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def primary_read(event: ProviderEvent) -> tuple[str, str] | None:
    """The read of the event's own object, the one its handler applies."""
    read = _READ_OF_TYPE.get(event.object_type or "")
    if read is None or event.object_id is None or event.type.startswith("customer.source."):
        return None
    return (read, event.object_id)


class HighWaterMarks:
    """Per object, since when a fetched state of it has been applied, and by which inbox event.

    The state fetched at ``since`` reflects every change made before it, so an event of the
    object created before ``since - margin`` (Stripe's ``created`` has one-second resolution and
    another clock) asks for nothing its handler has not applied already: handlers apply current
    state and key their effects by it. Only events whose own object was fetched by its own
    handler family count (one object, one handler). Kept in memory, at most ``capacity``
    objects, for this process's own applications; before one is trusted its anchor event is
    checked to still be stored as processed (a database emptied or restored has forgotten it).
    """

    def __init__(self, margin: timedelta, capacity: int = 10_000) -> None:
        self.margin = margin
        self.capacity = capacity
        self._marks: OrderedDict[tuple[str, str], tuple[datetime, str]] = OrderedDict()

    def record(self, read: tuple[str, str], since: datetime, anchor: str) -> None:
        current = self._marks.get(read)
        if current is None or current[0] < since:
            self._marks[read] = (since, anchor)
        self._marks.move_to_end(read)
        while len(self._marks) > self.capacity:
            self._marks.popitem(last=False)

    def anchor_for(self, event: ProviderEvent) -> str | None:
        """The inbox event whose application already reflects ``event``, if there is one."""
        read = primary_read(event)
        mark = self._marks.get(read) if read else None
        if mark is None or event.created >= mark[0] - self.margin:
            return None
        return mark[1]


def reads_for(events: list[ProviderEvent]) -> list[tuple[str, str]]:
    """The distinct ``(read, object id)`` the handlers of ``events`` will ask for, as far as the
    snapshots name them (ids only: the state applied is always the fetched one)."""
    wanted: dict[tuple[str, str], None] = {}
    for event in events:
        obj, kind = event.data_object, event.object_type or ""
        read = _READ_OF_TYPE.get(kind)
        if read and event.object_id and not event.type.startswith("customer.source."):
            wanted[(read, event.object_id)] = None
        for field_name, related_read in _RELATED.get(kind, ()):
            related = _ref(obj.get(field_name))
            if related:
                wanted[(related_read, related)] = None
    return list(wanted)


def _followed(obj: object) -> list[tuple[str, str | None]]:
    """What the standard handlers read next from a fetched object (an invoice's payment intent,
    then that intent's latest charge, …)."""
    follows: list[tuple[str, str | None]] = []
    if isinstance(obj, ProviderInvoice):
        follows = [("subscription", obj.subscription_id), ("payment_intent", obj.payment_intent_id)]
    elif isinstance(obj, ProviderCheckoutSession):
        follows = [
            ("customer", obj.customer_id),
            ("subscription", obj.subscription_id),
            ("payment_intent", obj.payment_intent_id),
        ]
    elif isinstance(obj, ProviderPaymentIntent):
        follows = [("charge", obj.latest_charge_id)]
    elif isinstance(obj, ProviderCharge):
        follows = [("payment_intent", obj.payment_intent_id)]
    elif isinstance(obj, ProviderDispute | ProviderRefund):
        follows = [("charge", obj.charge_id)]
    elif isinstance(obj, ProviderPaymentMethod):
        follows = [("customer", obj.customer_id)]
    return follows


async def prefetch(fetches: SharedFetches, events: list[ProviderEvent], rounds: int = 3) -> None:
    """Fetch every object the group's handlers will read, concurrently, in a few rounds: the
    ids the snapshots name, then the ids the fetched objects name. A failure is left for the
    handler that needs the object to meet (and retry) itself."""
    reads = {
        "customer": fetches.get_customer,
        "subscription": fetches.get_subscription,
        "invoice": fetches.get_invoice,
        "payment_intent": fetches.get_payment_intent,
        "charge": fetches.get_charge,
        "refund": fetches.get_refund,
        "dispute": fetches.get_dispute,
        "checkout_session": fetches.get_checkout_session,
        "setup_intent": fetches.get_setup_intent,
        "payment_method": fetches.get_payment_method,
    }
    wanted = reads_for(events)
    done: set[tuple[str, str]] = set()
    for _ in range(rounds):
        todo = [read for read in dict.fromkeys(wanted) if read not in done and read[0] in reads]
        if not todo:
            return
        done.update(todo)
        results = await asyncio.gather(
            *(reads[kind](object_id) for kind, object_id in todo), return_exceptions=True
        )
        wanted = [(kind, ref) for obj in results for kind, ref in _followed(obj) if ref]

"""An in-process :class:`PaymentProvider` for handler and service tests: no server, no SDK.

In the spirit of httpx's ``MockTransport``: the test puts in the objects the provider "has"
(``FakeProvider(customer, subscription, ...)`` or :meth:`FakeProvider.put`), the code under test
fetches them through the same interface the Stripe provider implements, and every call is
recorded in :attr:`FakeProvider.calls` for the test to inspect. An object that was never put in
is :class:`billhook.errors.NotFound`, as the real provider answers an unknown id. Events are put
in as Stripe-shaped dicts and parsed as the Stripe provider parses them.

The sandbox (``tests/support/stack.py``) stays the provider for end-to-end tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from billhook.errors import NotFound
from billhook.providers.base import (
    EventPage,
    ProviderCharge,
    ProviderCheckoutSession,
    ProviderCustomer,
    ProviderDispute,
    ProviderEvent,
    ProviderInvoice,
    ProviderObject,
    ProviderPaymentIntent,
    ProviderPaymentMethod,
    ProviderRefund,
    ProviderSetupIntent,
    ProviderSubscription,
)
from billhook.providers.stripe import API_VERSION
from billhook.providers.stripe.mapping import event as stripe_event

Stored = ProviderObject | ProviderEvent
T = TypeVar("T", bound=Stored)


@dataclass(frozen=True, slots=True)
class Call:
    """One call the code under test made: the method's name and the id it asked for."""

    method: str
    id: str | None = None


class FakeProvider:
    """Holds provider objects by type and id; answers reads from them and records each call."""

    def __init__(self, *objects: Stored, api_version: str | None = API_VERSION) -> None:
        self.api_version = api_version  # Stripe-shaped events, as the pinned SDK's
        self.objects: dict[tuple[type[Any], str], Any] = {}
        self.calls: list[Call] = []
        self.closed = False
        self.put(*objects)

    def put(self, *objects: Stored) -> FakeProvider:
        """Add or replace objects (the provider's current state); returns the provider."""
        for obj in objects:
            self.objects[(type(obj), obj.id)] = obj
        return self

    def put_event(self, payload: dict[str, Any]) -> ProviderEvent:
        """Store a Stripe-shaped event payload as the provider would list and retrieve it."""
        parsed = self.parse_event(payload)
        self.put(parsed)
        return parsed

    def fetched(self, method: str | None = None) -> list[Call]:
        """The recorded calls, all or those of one method."""
        return [call for call in self.calls if method is None or call.method == method]

    def _get(self, method: str, kind: type[T], object_id: str) -> T:
        self.calls.append(Call(method, object_id))
        found = self.objects.get((kind, object_id))
        if found is None:
            raise NotFound(f"{kind.__name__} {object_id} was not found at the payment provider")
        assert isinstance(found, kind)
        return found

    # -- the PaymentProvider interface ------------------------------------------------------------

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        return stripe_event(payload)

    async def aclose(self) -> None:
        self.calls.append(Call("aclose"))
        self.closed = True

    async def get_customer(self, customer_id: str) -> ProviderCustomer:
        return self._get("get_customer", ProviderCustomer, customer_id)

    async def get_payment_method(self, payment_method_id: str) -> ProviderPaymentMethod:
        return self._get("get_payment_method", ProviderPaymentMethod, payment_method_id)

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription:
        return self._get("get_subscription", ProviderSubscription, subscription_id)

    async def get_invoice(self, invoice_id: str) -> ProviderInvoice:
        return self._get("get_invoice", ProviderInvoice, invoice_id)

    async def get_payment_intent(self, payment_intent_id: str) -> ProviderPaymentIntent:
        return self._get("get_payment_intent", ProviderPaymentIntent, payment_intent_id)

    async def get_charge(self, charge_id: str) -> ProviderCharge:
        return self._get("get_charge", ProviderCharge, charge_id)

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        return self._get("get_refund", ProviderRefund, refund_id)

    async def get_dispute(self, dispute_id: str) -> ProviderDispute:
        return self._get("get_dispute", ProviderDispute, dispute_id)

    async def get_checkout_session(self, session_id: str) -> ProviderCheckoutSession:
        return self._get("get_checkout_session", ProviderCheckoutSession, session_id)

    async def get_setup_intent(self, setup_intent_id: str) -> ProviderSetupIntent:
        return self._get("get_setup_intent", ProviderSetupIntent, setup_intent_id)

    async def retrieve_event(self, event_id: str) -> ProviderEvent:
        return self._get("retrieve_event", ProviderEvent, event_id)

    async def list_events(
        self,
        *,
        created_gte: datetime | None = None,
        starting_after: str | None = None,
        types: list[str] | None = None,
        limit: int = 100,
    ) -> EventPage:
        """Newest first, as Stripe lists them; ``starting_after`` pages on past that id."""
        self.calls.append(Call("list_events", starting_after))
        events = sorted(
            (obj for (kind, _), obj in self.objects.items() if kind is ProviderEvent),
            key=lambda event: (event.created, event.id),
            reverse=True,
        )
        matching = [
            event
            for event in events
            if (created_gte is None or event.created >= created_gte)
            and (types is None or event.type in types)
        ]
        if starting_after is not None:
            ids = [event.id for event in matching]
            matching = matching[ids.index(starting_after) + 1 :] if starting_after in ids else []
        return EventPage(events=tuple(matching[:limit]), has_more=len(matching) > limit)

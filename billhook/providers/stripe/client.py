"""``StripeProvider``: the :class:`PaymentProvider` on the official SDK, async calls only.

Only the SDK's ``*_async`` methods are used: the embedded sandbox is served by the same event
loop, and a blocking call into it from a request would deadlock. SDK errors become
:class:`ProviderError` (502, the provider's own message) or :class:`NotFound` (404).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import stripe

from billhook.errors import NotFound, ProviderError
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
from billhook.providers.stripe import mapping
from billhook.providers.stripe.limits import LimitedHTTPClient, RateLimits, rate_limited

T = TypeVar("T")
SANDBOX_CLOCK_PATH = "/v1/test_helpers/sandbox/clock"
API_VERSION: str = stripe.api_version


def _plain(value: Any) -> Any:
    """JSON-ready values: the SDK turns ``*_decimal`` strings into ``Decimal``; Stripe sends strings."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = _plain(obj.to_dict())
    return result


class StripeProvider:
    def __init__(
        self,
        secret_key: str,
        api_base: str | None = None,
        *,
        limits: RateLimits | None = None,
        max_network_retries: int | None = None,
        client: stripe.StripeClient | None = None,
        sandbox: bool | None = False,
    ) -> None:
        if limits is None:  # Stripe's own limits for Stripe; none for another API base (the sandbox)
            limits = RateLimits.for_key(secret_key) if api_base is None else RateLimits.unlimited()
        if max_network_retries is not None:
            limits = replace(limits, max_attempts=max_network_retries + 1)
        # Retries happen in our HTTP client (limiter, backoff, Retry-After), not the SDK's loop.
        self._http = LimitedHTTPClient(limits)
        self._client = client or stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=0,
        )
        self.api_version = API_VERSION
        self._sandbox = sandbox  # None: not known yet (a test key on another API base), asked once

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        """A Stripe event body (a delivery, or one stored in the inbox) as a :class:`ProviderEvent`."""
        return mapping.event(payload)

    async def aclose(self) -> None:
        """Close pooled connections (the runtime calls this on shutdown)."""
        await self._http.close_async()  # type: ignore[no-untyped-call]

    @property
    def client(self) -> stripe.StripeClient:
        """The SDK client, for other code inside ``billhook.providers.stripe`` only."""
        return self._client

    async def now(self) -> int:
        """The provider's time (Unix seconds), which it checks times it is given against.

        Stripe's is real time. The sandbox's runs ahead once ``billhook sandbox advance`` moved it,
        so it is asked (``GET /v1/test_helpers/sandbox/clock``) rather than assumed. A test key on
        another API base may be the sandbox run on its own or a proxy to Stripe: the first call
        asks, and an API without the clock (404) is taken for real time from then on.
        """
        if self._sandbox is False:
            return int(time.time())
        try:
            doc = await self._read("sandbox clock", "now", SANDBOX_CLOCK_PATH)
        except NotFound:
            if self._sandbox is None:  # an API without the sandbox's clock: Stripe's real time
                self._sandbox = False
                return int(time.time())
            raise
        except ProviderError:
            if self._sandbox is None:  # not answered this time: asked again next time
                return int(time.time())
            raise
        self._sandbox = True
        return int(doc["now"])

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._http.attempts

    async def _call(self, what: str, object_id: str, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        try:
            result = await call()
            if isinstance(result, stripe.StripeResponse):  # a raw read: the JSON as Stripe sent it
                data: Any = result.data
                return dict(data)
            return _as_dict(result)
        except stripe.RateLimitError as exc:
            raise rate_limited(exc, _message(exc)) from None
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404 or exc.code == "resource_missing":
                raise NotFound(f"{what} {object_id} was not found at the payment provider") from None
            raise ProviderError(_message(exc), provider_code=exc.code) from None
        except stripe.StripeError as exc:
            raise ProviderError(_message(exc), provider_code=exc.code) from None

    async def _read(self, what: str, object_id: str, path: str, **params: Any) -> dict[str, Any]:
        """``GET path`` as plain JSON: building the SDK's objects and turning them back into dicts
        cost more CPU than the request itself (about 3 ms per object)."""
        url = path.format(id=quote(object_id, safe=""))
        client = self._client
        return await self._call(what, object_id, lambda: client.raw_request_async("get", url, **params))

    async def get_customer(self, customer_id: str) -> ProviderCustomer:
        doc = await self._read("customer", customer_id, "/v1/customers/{id}")
        return mapping.customer(doc)

    async def get_payment_method(self, payment_method_id: str) -> ProviderPaymentMethod:
        doc = await self._read("payment method", payment_method_id, "/v1/payment_methods/{id}")
        return mapping.payment_method(doc)

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription:
        # The coupon's terms make MRR "after discounts" (docs/analytics.md); Stripe expands at
        # most four levels, so an item's own discounts stay ids.
        doc = await self._read(
            "subscription", subscription_id, "/v1/subscriptions/{id}", expand=["discounts.source.coupon"]
        )
        return mapping.subscription(doc)

    async def get_invoice(self, invoice_id: str) -> ProviderInvoice:
        doc = await self._read("invoice", invoice_id, "/v1/invoices/{id}", expand=["payments"])
        return mapping.invoice(doc)

    async def get_payment_intent(self, payment_intent_id: str) -> ProviderPaymentIntent:
        doc = await self._read("payment intent", payment_intent_id, "/v1/payment_intents/{id}")
        return mapping.payment_intent(doc)

    async def get_charge(self, charge_id: str) -> ProviderCharge:
        doc = await self._read("charge", charge_id, "/v1/charges/{id}", expand=["refunds"])
        return mapping.charge(doc)

    async def get_refund(self, refund_id: str) -> ProviderRefund:
        doc = await self._read("refund", refund_id, "/v1/refunds/{id}")
        return mapping.refund(doc)

    async def get_dispute(self, dispute_id: str) -> ProviderDispute:
        doc = await self._read("dispute", dispute_id, "/v1/disputes/{id}")
        return mapping.dispute(doc)

    async def get_checkout_session(self, session_id: str) -> ProviderCheckoutSession:
        doc = await self._read(
            "checkout session", session_id, "/v1/checkout/sessions/{id}", expand=["line_items"]
        )
        return mapping.checkout_session(doc)

    async def get_setup_intent(self, setup_intent_id: str) -> ProviderSetupIntent:
        doc = await self._read("setup intent", setup_intent_id, "/v1/setup_intents/{id}")
        return mapping.setup_intent(doc)

    def object_from_snapshot(self, event: ProviderEvent) -> ProviderObject | None:
        """The event's object as the matching ``get_*`` above would map it (see
        :class:`billhook.providers.base.SnapshotReader`): only at this provider's API version, and
        a subscription only without discounts, since its read expands them."""
        if event.api_version != self.api_version:
            return None
        doc = event.data_object
        if doc.get("object") == "subscription" and doc.get("discounts") != []:
            return None
        return mapping.snapshot(doc)

    async def retrieve_event(self, event_id: str) -> ProviderEvent:
        v1 = self._client.v1
        doc = await self._call("event", event_id, lambda: v1.events.retrieve_async(event_id))
        return mapping.event(doc)

    async def list_events(
        self,
        *,
        created_gte: datetime | None = None,
        starting_after: str | None = None,
        types: list[str] | None = None,
        limit: int = 100,
    ) -> EventPage:
        params: dict[str, Any] = {"limit": limit}
        if created_gte is not None:
            params["created"] = {"gte": int(created_gte.timestamp())}
        if starting_after:
            params["starting_after"] = starting_after
        if types:
            params["types"] = types
        v1 = self._client.v1
        doc = await self._call("events", "list", lambda: v1.events.list_async(params))  # type: ignore[arg-type]
        events = tuple(mapping.event(item) for item in doc.get("data", []))
        return EventPage(events=events, has_more=bool(doc.get("has_more")))


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__

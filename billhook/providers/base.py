"""The payment provider seam: a protocol and provider-neutral, frozen data classes.

Services and webhook handlers see only these types, never an SDK object. Each data class
keeps the fields Billhook mirrors plus ``raw``: the provider's JSON as plain dicts, for the
``raw`` audit columns (compared by nothing, so two reads of the same state compare equal).

Times are aware UTC datetimes; amounts are integers in the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

Raw = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderCustomer:
    id: str
    email: str | None = None
    name: str | None = None
    deleted: bool = False
    created: datetime | None = None
    default_payment_method_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, hash=False)
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderPaymentMethod:
    """A saved payment method as brand, last four digits and expiry: never the number."""

    id: str
    customer_id: str | None
    type: str = "card"
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderDiscount:
    """A discount applied to a subscription or an item, as its coupon's terms.

    ``percent_off`` or ``amount_off`` (minor units per billing period) comes from the coupon
    (``discount.source.coupon`` since API 2025-09-30, ``discount.coupon`` before). A discount whose
    coupon was not expanded is kept with neither, and cannot be counted.
    """

    id: str
    percent_off: float | None = None
    amount_off: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderSubscriptionItem:
    id: str
    price_id: str
    product_id: str | None
    quantity: int = 1
    unit_amount: int | None = None
    currency: str | None = None
    interval: str | None = None
    # ``price.recurring.interval_count``: billed every ``interval_count`` intervals (3 months, 2 years).
    interval_count: int = 1
    discounts: tuple[ProviderDiscount, ...] = ()
    # Since API 2025-03-31 the billing period lives on the item, not the subscription.
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderSubscription:
    id: str
    customer_id: str
    status: str
    items: tuple[ProviderSubscriptionItem, ...] = ()
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    trial_start: datetime | None = None
    trial_end: datetime | None = None
    latest_invoice_id: str | None = None
    default_payment_method_id: str | None = None
    cancellation_reason: str | None = None
    created: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict, hash=False)
    discounts: tuple[ProviderDiscount, ...] = ()
    start_date: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def current_period_start(self) -> datetime | None:
        starts = [item.current_period_start for item in self.items if item.current_period_start]
        return min(starts) if starts else None

    @property
    def current_period_end(self) -> datetime | None:
        ends = [item.current_period_end for item in self.items if item.current_period_end]
        return max(ends) if ends else None

    @property
    def first_item(self) -> ProviderSubscriptionItem | None:
        return self.items[0] if self.items else None


@dataclass(frozen=True, slots=True)
class ProviderInvoice:
    id: str
    customer_id: str | None
    subscription_id: str | None
    status: str | None
    currency: str
    amount_due: int = 0
    amount_paid: int = 0
    amount_remaining: int = 0
    attempt_count: int = 0
    number: str | None = None
    billing_reason: str | None = None
    customer_email: str | None = None
    next_payment_attempt: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    paid_at: datetime | None = None
    hosted_invoice_url: str | None = None
    payment_intent_id: str | None = None
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str
    reason: str | None = None
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderCharge:
    id: str
    payment_intent_id: str | None
    customer_id: str | None
    amount: int
    currency: str
    status: str  # succeeded | pending | failed
    amount_refunded: int = 0
    refunded: bool = False
    disputed: bool = False
    failure_code: str | None = None
    failure_message: str | None = None
    payment_method_id: str | None = None
    refunds: tuple[ProviderRefund, ...] = ()
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderPaymentIntent:
    id: str
    customer_id: str | None
    amount: int
    currency: str
    status: str
    amount_received: int = 0
    latest_charge_id: str | None = None
    payment_method_id: str | None = None
    description: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, hash=False)
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderDispute:
    id: str
    charge_id: str | None
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str
    reason: str | None = None
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderLineItem:
    price_id: str | None
    product_id: str | None
    quantity: int
    amount_total: int
    currency: str


@dataclass(frozen=True, slots=True)
class ProviderCheckoutSession:
    id: str
    mode: str  # payment | subscription | setup
    status: str | None  # open | complete | expired
    payment_status: str | None  # paid | unpaid | no_payment_required
    customer_id: str | None = None
    customer_email: str | None = None
    client_reference_id: str | None = None
    subscription_id: str | None = None
    payment_intent_id: str | None = None
    setup_intent_id: str | None = None
    amount_total: int | None = None
    currency: str | None = None
    expires_at: datetime | None = None
    line_items: tuple[ProviderLineItem, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict, hash=False)
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderSetupIntent:
    id: str
    customer_id: str | None
    status: str
    payment_method_id: str | None = None
    usage: str | None = None
    failure_message: str | None = None
    created: datetime | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """An event envelope. ``data_object`` is the object as it was when the event was made:
    handlers use it only to find ids; only the inbox worker may apply it, as if fetched, once it
    has proven it the newest state known of the object (:class:`SnapshotReader`, ``billhook.inbox``)."""

    id: str
    type: str
    created: datetime
    livemode: bool
    api_version: str | None
    data_object: Raw
    previous_attributes: Raw | None = None
    raw: Raw = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def object_id(self) -> str | None:
        value = self.data_object.get("id")
        return value if isinstance(value, str) else None

    @property
    def object_type(self) -> str | None:
        value = self.data_object.get("object")
        return value if isinstance(value, str) else None

    def object_ref(self, name: str) -> str | None:
        """The id in the event object's field ``name``, whether sent as an id or as the expanded
        object (https://docs.stripe.com/api/expanding_objects)."""
        value = self.data_object.get(name)
        if isinstance(value, dict):
            value = value.get("id")
        return value if isinstance(value, str) and value else None


# What a ``PaymentProvider.get_*`` read returns.
ProviderObject = (
    ProviderCustomer
    | ProviderPaymentMethod
    | ProviderSubscription
    | ProviderInvoice
    | ProviderPaymentIntent
    | ProviderCharge
    | ProviderRefund
    | ProviderDispute
    | ProviderCheckoutSession
    | ProviderSetupIntent
)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[ProviderEvent, ...]
    has_more: bool


@runtime_checkable
class PaymentProvider(Protocol):
    """What Billhook asks of a payment provider. Every call may raise
    :class:`billhook.errors.ProviderError` (the provider failed or refused) or
    :class:`billhook.errors.NotFound` (no such object)."""

    @property
    def api_version(self) -> str | None:
        """The API version this provider's events are shaped for; the receiver flags others."""
        ...

    def parse_event(self, payload: Raw) -> ProviderEvent:
        """An event as delivered to the webhook or stored in the inbox, in the neutral shape."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections; called once when the process stops."""

    async def get_customer(self, customer_id: str) -> ProviderCustomer: ...

    async def get_payment_method(self, payment_method_id: str) -> ProviderPaymentMethod: ...

    async def get_subscription(self, subscription_id: str) -> ProviderSubscription: ...

    async def get_invoice(self, invoice_id: str) -> ProviderInvoice: ...

    async def get_payment_intent(self, payment_intent_id: str) -> ProviderPaymentIntent: ...

    async def get_charge(self, charge_id: str) -> ProviderCharge: ...

    async def get_refund(self, refund_id: str) -> ProviderRefund: ...

    async def get_dispute(self, dispute_id: str) -> ProviderDispute: ...

    async def get_checkout_session(self, session_id: str) -> ProviderCheckoutSession: ...

    async def get_setup_intent(self, setup_intent_id: str) -> ProviderSetupIntent: ...

    async def retrieve_event(self, event_id: str) -> ProviderEvent: ...

    async def list_events(
        self,
        *,
        created_gte: datetime | None = None,
        starting_after: str | None = None,
        types: list[str] | None = None,
        limit: int = 100,
    ) -> EventPage:
        """One page of events, newest first (Stripe's order); page on with ``starting_after``."""
        ...


@runtime_checkable
class SnapshotReader(Protocol):
    """A provider that can tell when an event's snapshot has the very shape of its own read.

    Optional beside :class:`PaymentProvider`: the inbox asks it before applying an event's
    snapshot instead of fetching the object (``billhook/inbox/README.md``); a provider without
    it always fetches."""

    def object_from_snapshot(self, event: ProviderEvent) -> ProviderObject | None:
        """The event's object as the matching ``get_*`` would return it at the event's time, or
        ``None`` when the snapshot cannot be that: another API version, a partial object, or an
        expansion the read asks for that the snapshot lacks."""
        ...

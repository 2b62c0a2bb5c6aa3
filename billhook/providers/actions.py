"""What Billhook asks a payment provider to *do*: the write half of the provider seam.

:class:`billhook.providers.base.PaymentProvider` reads; :class:`ProviderActions` opens checkout
and portal sessions, changes and cancels subscriptions, pays invoices, refunds, syncs the catalog
and registers webhook endpoints. Inputs and outputs are provider-neutral frozen data classes.

Every mutating method takes an ``idempotency_key``: a caller that retries (a nervous user, a
job run twice) sends the same key and the provider performs the change once
(https://docs.stripe.com/api/idempotent_requests). Errors: :class:`billhook.errors.NotFound`
for unknown ids (:class:`MissingAtProvider` naming the request field whose object is gone),
:class:`CardDeclined` (402) when the card is refused, and
:class:`billhook.errors.ProviderError` (502, the provider's message) for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Literal, Protocol, runtime_checkable

from billhook.errors import NotFound, ProviderError
from billhook.providers.base import ProviderInvoice, ProviderRefund, ProviderSubscription

CheckoutMode = Literal["payment", "subscription"]
ProrationBehavior = Literal["create_prorations", "always_invoice", "none"]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]
USER_ID_METADATA = "billhook_user_id"


class CardDeclined(ProviderError):
    """The provider refused the card: the customer can act on it (another card), so not a 502."""

    status_code: ClassVar[int] = 402
    code: ClassVar[str] = "card_declined"


class MissingAtProvider(NotFound):
    """An object the request named does not exist at the provider (Stripe's ``resource_missing``).

    ``param`` is the request field that named it (Stripe's ``error.param``, e.g. ``customer``),
    so a caller can tell which of the ids it sent is gone and say so."""

    def __init__(self, message: str, *, param: str | None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    mode: CheckoutMode
    price_id: str
    success_url: str
    cancel_url: str
    idempotency_key: str
    quantity: int = 1
    customer_id: str | None = None
    customer_email: str | None = None  # only when there is no customer_id
    client_reference_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    trial_period_days: int | None = None  # subscription mode only
    # How long the session stays open, counted by the provider from when it creates the session:
    # a lifetime, not a moment, because only the provider knows its own now (the sandbox's runs
    # ahead after `billhook sandbox advance`). None: the provider's default (Stripe: 24 hours).
    expires_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CreatedCheckout:
    id: str
    url: str
    expires_at: datetime | None
    amount_total: int | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PreviewLine:
    description: str | None
    amount: int
    proration: bool


@dataclass(frozen=True, slots=True)
class InvoicePreview:
    """What the provider would invoice: for a plan change, ``amount_due`` is what is due now
    (or on the next invoice, depending on the proration behaviour)."""

    amount_due: int
    currency: str
    lines: tuple[PreviewLine, ...] = ()
    next_payment_attempt: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProviderProduct:
    id: str
    name: str
    description: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class ProviderPrice:
    id: str
    product_id: str
    currency: str
    unit_amount: int
    lookup_key: str | None = None
    interval: str | None = None
    interval_count: int = 1
    active: bool = True


@dataclass(frozen=True, slots=True)
class PriceSpec:
    product_id: str
    currency: str
    unit_amount: int
    lookup_key: str
    interval: str | None = None
    interval_count: int = 1
    transfer_lookup_key: bool = False


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    enabled_events: tuple[str, ...] = ()
    secret: str | None = None  # only returned when the endpoint is created


@runtime_checkable
class ProviderActions(Protocol):
    async def find_or_create_customer(self, *, email: str, user_id: str, idempotency_key: str) -> str:
        """The provider customer id of this user: one with the same email whose metadata names
        the user, else a new one carrying ``billhook_user_id`` in its metadata."""
        ...

    async def create_checkout_session(self, request: CheckoutRequest) -> CreatedCheckout: ...

    async def set_default_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        """The card future invoices charge (``invoice_settings.default_payment_method``)."""
        ...

    async def create_portal_session(self, *, customer_id: str, return_url: str, idempotency_key: str) -> str:
        """The billing portal URL."""
        ...

    async def preview_plan_change(
        self,
        *,
        subscription_id: str,
        item_id: str,
        price_id: str,
        proration_behavior: ProrationBehavior,
        end_trial: bool = False,
    ) -> InvoicePreview: ...

    async def preview_upcoming_invoice(self, *, subscription_id: str) -> InvoicePreview: ...

    async def change_plan(
        self,
        *,
        subscription_id: str,
        item_id: str,
        price_id: str,
        proration_behavior: ProrationBehavior,
        idempotency_key: str,
        end_trial: bool = False,
    ) -> ProviderSubscription:
        """Move the item to ``price_id``. A trialing subscription keeps its trial (nothing is
        charged) unless ``end_trial``: then the trial ends now and the new price is billed."""
        ...

    async def set_cancel_at_period_end(
        self, *, subscription_id: str, cancel: bool, idempotency_key: str
    ) -> ProviderSubscription: ...

    async def cancel_subscription_now(
        self, *, subscription_id: str, idempotency_key: str
    ) -> ProviderSubscription: ...

    async def pay_invoice(self, *, invoice_id: str, idempotency_key: str) -> ProviderInvoice:
        """Charge an open invoice off-session with the saved (default) card."""
        ...

    async def create_refund(
        self, *, payment_intent_id: str, amount: int | None, reason: RefundReason | None, idempotency_key: str
    ) -> ProviderRefund: ...

    async def list_products(self) -> list[ProviderProduct]: ...

    async def list_prices(self) -> list[ProviderPrice]: ...

    async def create_product(
        self, *, product_id: str, name: str, description: str | None, active: bool, idempotency_key: str
    ) -> ProviderProduct: ...

    async def update_product(
        self, *, product_id: str, name: str, description: str | None, active: bool, idempotency_key: str
    ) -> ProviderProduct: ...

    async def create_price(self, spec: PriceSpec, *, idempotency_key: str) -> ProviderPrice: ...

    async def set_price_active(
        self, *, price_id: str, active: bool, idempotency_key: str
    ) -> ProviderPrice: ...

    async def create_webhook_endpoint(
        self, *, url: str, enabled_events: tuple[str, ...], idempotency_key: str
    ) -> WebhookEndpoint: ...

    async def list_webhook_endpoints(self) -> list[WebhookEndpoint]: ...

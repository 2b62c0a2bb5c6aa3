"""``StripeActions``: :class:`ProviderActions` on the official SDK's ``*_async`` methods.

Built from the SDK client a :class:`StripeProvider` already holds (``StripeActions(provider.client)``
or :func:`actions_for`), so reads and writes share one connection pool and one API base (the
sandbox or Stripe). Every mutating call sends the caller's ``idempotency_key``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

import stripe

from billhook.errors import Conflict, ProviderError
from billhook.kit.clock import from_timestamp
from billhook.providers.actions import (
    USER_ID_METADATA,
    CardDeclined,
    CheckoutRequest,
    CreatedCheckout,
    InvoicePreview,
    MissingAtProvider,
    PreviewLine,
    PriceSpec,
    ProrationBehavior,
    ProviderPrice,
    ProviderProduct,
    RefundReason,
    WebhookEndpoint,
)
from billhook.providers.base import PaymentProvider, ProviderInvoice, ProviderRefund, ProviderSubscription
from billhook.providers.stripe import mapping
from billhook.providers.stripe.client import StripeProvider, _as_dict, _message
from billhook.providers.stripe.limits import rate_limited

Doc = dict[str, Any]


def actions_for(provider: PaymentProvider) -> StripeActions:
    """The actions of a configured provider (the composition root calls this once)."""
    if not isinstance(provider, StripeProvider):
        raise ProviderError("this payment provider cannot take actions (no Stripe client)")
    return StripeActions(provider.client, provider.now)


# Stripe error codes that mean "not in this object's current state" (https://docs.stripe.com/error-codes):
# the caller's request conflicts with what happened at the provider (409 with Stripe's reason),
# nothing failed there (not a 502).
STATE_CONFLICTS = frozenset(
    {
        "charge_disputed",  # a charged-back charge cannot be refunded
        "charge_already_refunded",
        "charge_expired_for_capture",
        "invoice_not_editable",
        "invoice_no_customer_line_items",
        "resource_already_exists",
    }
)


async def _call(
    what: str, call: Callable[[], Awaitable[Any]], *, named: Mapping[str, str] | None = None
) -> Doc:
    """``call``'s answer as a dict, Stripe's errors as Billhook's.

    ``what`` names the object the request is about; ``named`` the other objects it refers to, by
    request field: a ``resource_missing`` names the one Stripe's ``param`` points at, so a
    checkout for a deleted customer does not report its price as missing."""
    try:
        return _as_dict(await call())
    except stripe.RateLimitError as exc:
        raise rate_limited(exc, _message(exc)) from None
    except stripe.CardError as exc:
        raise CardDeclined(_message(exc), provider_code=exc.code) from None
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404 or exc.code == "resource_missing":
            missing = (named or {}).get(exc.param or "", what)
            message = f"{missing} was not found at the payment provider"
            raise MissingAtProvider(message, param=exc.param) from None
        if exc.code in STATE_CONFLICTS:
            raise Conflict(_message(exc), provider_code=exc.code) from None
        raise ProviderError(_message(exc), provider_code=exc.code) from None
    except stripe.StripeError as exc:
        raise ProviderError(_message(exc), provider_code=exc.code) from None


def _key(idempotency_key: str) -> Any:
    return {"idempotency_key": idempotency_key}


async def _real_time() -> int:
    return int(time.time())


# Stripe accepts a Checkout Session's expires_at from 30 minutes to 24 hours after it creates the
# session (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at).
# It measures from its own now when the request arrives, after we read the time, so a lifetime at
# either bound keeps a minute's slack (travel, a retry after backoff, a little clock skew).
CHECKOUT_LIFETIME = (timedelta(minutes=30), timedelta(hours=24))
LIFETIME_SLACK = timedelta(minutes=1)


def checkout_lifetime(requested: timedelta) -> timedelta:
    """``requested`` kept inside the window Stripe accepts, with the slack."""
    shortest, longest = CHECKOUT_LIFETIME
    return min(max(requested, shortest + LIFETIME_SLACK), longest - LIFETIME_SLACK)


class StripeActions:
    def __init__(self, client: stripe.StripeClient, now: Callable[[], Awaitable[int]] = _real_time) -> None:
        """``now`` is the provider's time (:meth:`StripeProvider.now`), for times it checks."""
        self._v1 = client.v1
        self._now = now

    # -- customers and checkout ------------------------------------------------------------------

    async def find_or_create_customer(self, *, email: str, user_id: str, idempotency_key: str) -> str:
        v1 = self._v1
        found = await _call("customers", lambda: v1.customers.list_async({"email": email, "limit": 100}))
        for doc in found.get("data", []):
            if (doc.get("metadata") or {}).get(USER_ID_METADATA) == user_id:
                return str(doc["id"])
        params: Any = {"email": email, "metadata": {USER_ID_METADATA: user_id}}
        created = await _call("customer", lambda: v1.customers.create_async(params, _key(idempotency_key)))
        return str(created["id"])

    async def set_default_payment_method(
        self, *, customer_id: str, payment_method_id: str, idempotency_key: str
    ) -> None:
        params: Any = {"invoice_settings": {"default_payment_method": payment_method_id}}
        v1 = self._v1
        await _call(
            f"customer {customer_id}",
            lambda: v1.customers.update_async(customer_id, params, _key(idempotency_key)),
        )

    async def create_checkout_session(self, request: CheckoutRequest) -> CreatedCheckout:
        params: Any = {
            "mode": request.mode,
            "line_items": [{"price": request.price_id, "quantity": request.quantity}],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "metadata": request.metadata,
        }
        if request.customer_id:
            params["customer"] = request.customer_id
        elif request.customer_email:
            params["customer_email"] = request.customer_email
        if request.client_reference_id:
            params["client_reference_id"] = request.client_reference_id
        if request.expires_after is not None:
            lifetime = checkout_lifetime(request.expires_after)
            params["expires_at"] = await self._now() + int(lifetime.total_seconds())
        if request.mode == "subscription":
            params["subscription_data"] = {"metadata": request.metadata}
            if request.trial_period_days:
                params["subscription_data"]["trial_period_days"] = request.trial_period_days
        else:
            params["payment_intent_data"] = {"metadata": request.metadata}
        v1 = self._v1
        doc = await _call(
            f"price {request.price_id}",
            lambda: v1.checkout.sessions.create_async(params, _key(request.idempotency_key)),
            named={"customer": f"customer {request.customer_id}"},
        )
        return CreatedCheckout(
            id=str(doc["id"]),
            url=str(doc["url"]),
            expires_at=from_timestamp(doc.get("expires_at")),
            amount_total=doc.get("amount_total"),
            currency=doc.get("currency"),
        )

    async def create_portal_session(self, *, customer_id: str, return_url: str, idempotency_key: str) -> str:
        params: Any = {"customer": customer_id, "return_url": return_url}
        v1 = self._v1
        doc = await _call(
            f"customer {customer_id}",
            lambda: v1.billing_portal.sessions.create_async(params, _key(idempotency_key)),
        )
        return str(doc["url"])

    # -- subscriptions -------------------------------------------------------------------------

    async def preview_plan_change(
        self,
        *,
        subscription_id: str,
        item_id: str,
        price_id: str,
        proration_behavior: ProrationBehavior,
        end_trial: bool = False,
    ) -> InvoicePreview:
        details: Any = {
            "items": [{"id": item_id, "price": price_id}],
            "proration_behavior": proration_behavior,
        }
        if end_trial:
            details["trial_end"] = "now"
        params: Any = {"subscription": subscription_id, "subscription_details": details}
        v1 = self._v1
        doc = await _call(f"subscription {subscription_id}", lambda: v1.invoices.create_preview_async(params))
        # Ending the trial invoices the whole new period now, not only prorations.
        return _preview(doc, prorations_only=not end_trial)

    async def preview_upcoming_invoice(self, *, subscription_id: str) -> InvoicePreview:
        params: Any = {"subscription": subscription_id}
        v1 = self._v1
        doc = await _call(f"subscription {subscription_id}", lambda: v1.invoices.create_preview_async(params))
        return _preview(doc, prorations_only=False)

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
        params: Any = {
            "items": [{"id": item_id, "price": price_id}],
            "proration_behavior": proration_behavior,
        }
        if end_trial:  # https://docs.stripe.com/billing/subscriptions/trials#end-trial-early
            params["trial_end"] = "now"
        return await self._update_subscription(subscription_id, params, idempotency_key)

    async def set_cancel_at_period_end(
        self, *, subscription_id: str, cancel: bool, idempotency_key: str
    ) -> ProviderSubscription:
        params: Any = {"cancel_at_period_end": cancel}
        return await self._update_subscription(subscription_id, params, idempotency_key)

    async def cancel_subscription_now(
        self, *, subscription_id: str, idempotency_key: str
    ) -> ProviderSubscription:
        v1 = self._v1
        doc = await _call(
            f"subscription {subscription_id}",
            lambda: v1.subscriptions.cancel_async(subscription_id, None, _key(idempotency_key)),
        )
        return mapping.subscription(doc)

    async def _update_subscription(self, subscription_id: str, params: Any, key: str) -> ProviderSubscription:
        v1 = self._v1
        doc = await _call(
            f"subscription {subscription_id}",
            lambda: v1.subscriptions.update_async(subscription_id, params, _key(key)),
        )
        return mapping.subscription(doc)

    # -- invoices and refunds --------------------------------------------------------------------

    async def pay_invoice(self, *, invoice_id: str, idempotency_key: str) -> ProviderInvoice:
        v1 = self._v1
        params: Any = {"off_session": True}
        doc = await _call(
            f"invoice {invoice_id}", lambda: v1.invoices.pay_async(invoice_id, params, _key(idempotency_key))
        )
        return mapping.invoice(doc)

    async def create_refund(
        self, *, payment_intent_id: str, amount: int | None, reason: RefundReason | None, idempotency_key: str
    ) -> ProviderRefund:
        params: Any = {"payment_intent": payment_intent_id}
        if amount is not None:
            params["amount"] = amount
        if reason is not None:
            params["reason"] = reason
        v1 = self._v1
        doc = await _call(
            f"payment intent {payment_intent_id}",
            lambda: v1.refunds.create_async(params, _key(idempotency_key)),
        )
        return mapping.refund(doc)

    # -- catalog -------------------------------------------------------------------------------

    async def list_products(self) -> list[ProviderProduct]:
        docs = await self._list_all("products", self._v1.products.list_async)
        return [_product(doc) for doc in docs]

    async def list_prices(self) -> list[ProviderPrice]:
        docs = await self._list_all("prices", self._v1.prices.list_async)
        return [_price(doc) for doc in docs]

    async def _list_all(self, what: str, page: Callable[[Any], Awaitable[Any]]) -> list[Doc]:
        """Every object, active or not, following ``starting_after`` cursors."""
        found: list[Doc] = []
        after: str | None = None
        while True:
            params: Any = {"limit": 100, **({"starting_after": after} if after else {})}
            doc = await _call(what, partial(page, params))
            data: list[Doc] = doc.get("data", [])
            found += data
            if not doc.get("has_more") or not data:
                return found
            after = str(data[-1]["id"])

    async def create_product(
        self, *, product_id: str, name: str, description: str | None, active: bool, idempotency_key: str
    ) -> ProviderProduct:
        params: Any = {"id": product_id, "name": name, "active": active}
        if description:
            params["description"] = description
        v1 = self._v1
        doc = await _call(
            f"product {product_id}", lambda: v1.products.create_async(params, _key(idempotency_key))
        )
        return _product(doc)

    async def update_product(
        self, *, product_id: str, name: str, description: str | None, active: bool, idempotency_key: str
    ) -> ProviderProduct:
        params: Any = {"name": name, "active": active, "description": description or ""}
        v1 = self._v1
        doc = await _call(
            f"product {product_id}",
            lambda: v1.products.update_async(product_id, params, _key(idempotency_key)),
        )
        return _product(doc)

    async def create_price(self, spec: PriceSpec, *, idempotency_key: str) -> ProviderPrice:
        params: Any = {
            "product": spec.product_id,
            "currency": spec.currency,
            "unit_amount": spec.unit_amount,
            "lookup_key": spec.lookup_key,
        }
        if spec.interval:
            params["recurring"] = {"interval": spec.interval, "interval_count": spec.interval_count}
        if spec.transfer_lookup_key:
            params["transfer_lookup_key"] = True
        v1 = self._v1
        doc = await _call(
            f"product {spec.product_id}", lambda: v1.prices.create_async(params, _key(idempotency_key))
        )
        return _price(doc)

    async def set_price_active(self, *, price_id: str, active: bool, idempotency_key: str) -> ProviderPrice:
        params: Any = {"active": active}
        v1 = self._v1
        doc = await _call(
            f"price {price_id}", lambda: v1.prices.update_async(price_id, params, _key(idempotency_key))
        )
        return _price(doc)

    # -- webhook endpoints ---------------------------------------------------------------------

    async def create_webhook_endpoint(
        self, *, url: str, enabled_events: tuple[str, ...], idempotency_key: str
    ) -> WebhookEndpoint:
        params: Any = {"url": url, "enabled_events": list(enabled_events)}
        v1 = self._v1
        doc = await _call(
            "webhook endpoint", lambda: v1.webhook_endpoints.create_async(params, _key(idempotency_key))
        )
        return _endpoint(doc)

    async def list_webhook_endpoints(self) -> list[WebhookEndpoint]:
        docs = await self._list_all("webhook endpoints", self._v1.webhook_endpoints.list_async)
        return [_endpoint(doc) for doc in docs]


def _preview(doc: Doc, *, prorations_only: bool) -> InvoicePreview:
    lines = []
    for line in (doc.get("lines") or {}).get("data", []):
        proration = bool((line.get("parent") or {}).get("subscription_item_details", {}).get("proration"))
        proration = proration or bool(line.get("proration"))
        if prorations_only and not proration:
            continue
        lines.append(PreviewLine(line.get("description"), int(line.get("amount") or 0), proration))
    amount = sum(line.amount for line in lines) if prorations_only else int(doc.get("amount_due") or 0)
    return InvoicePreview(
        amount_due=amount,
        currency=str(doc.get("currency") or ""),
        lines=tuple(lines),
        next_payment_attempt=from_timestamp(doc.get("next_payment_attempt")),
        period_end=from_timestamp(doc.get("period_end")),
    )


def _product(doc: Doc) -> ProviderProduct:
    return ProviderProduct(
        id=str(doc["id"]),
        name=str(doc.get("name") or ""),
        description=doc.get("description") or None,
        active=bool(doc.get("active", True)),
    )


def _price(doc: Doc) -> ProviderPrice:
    recurring = doc.get("recurring") or {}
    return ProviderPrice(
        id=str(doc["id"]),
        product_id=str(mapping.ref(doc.get("product")) or ""),
        currency=str(doc.get("currency") or ""),
        unit_amount=int(doc.get("unit_amount") or 0),
        lookup_key=doc.get("lookup_key"),
        interval=recurring.get("interval"),
        interval_count=int(recurring.get("interval_count") or 1),
        active=bool(doc.get("active", True)),
    )


def _endpoint(doc: Doc) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=str(doc["id"]),
        url=str(doc.get("url") or ""),
        enabled_events=tuple(doc.get("enabled_events") or ()),
        secret=doc.get("secret"),
    )

"""Stripe JSON (plain dicts, at the SDK's pinned API version) → provider-neutral data classes.

Pure functions over dicts, so they also read event payloads and are tested without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from billhook.kit.clock import from_timestamp
from billhook.providers.base import (
    ProviderCharge,
    ProviderCheckoutSession,
    ProviderCustomer,
    ProviderDiscount,
    ProviderDispute,
    ProviderEvent,
    ProviderInvoice,
    ProviderLineItem,
    ProviderObject,
    ProviderPaymentIntent,
    ProviderPaymentMethod,
    ProviderRefund,
    ProviderSetupIntent,
    ProviderSubscription,
    ProviderSubscriptionItem,
)

Doc = dict[str, Any]


def ref(value: Any) -> str | None:
    """An expandable field's id, whether it came back as an id or as the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _metadata(doc: Doc) -> dict[str, str]:
    raw = doc.get("metadata") or {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _list_data(value: Any) -> list[Doc]:
    if isinstance(value, dict):
        value = value.get("data")
    return [item for item in value or [] if isinstance(item, dict)]


def customer(doc: Doc) -> ProviderCustomer:
    settings = doc.get("invoice_settings") or {}
    return ProviderCustomer(
        id=doc["id"],
        email=_str(doc.get("email")),
        name=_str(doc.get("name")),
        deleted=bool(doc.get("deleted", False)),
        created=from_timestamp(doc.get("created")),
        default_payment_method_id=ref(settings.get("default_payment_method")),
        metadata=_metadata(doc),
        raw=doc,
    )


def payment_method(doc: Doc) -> ProviderPaymentMethod:
    card = doc.get("card") or {}
    return ProviderPaymentMethod(
        id=doc["id"],
        customer_id=ref(doc.get("customer")),
        type=_str(doc.get("type")) or "card",
        brand=_str(card.get("brand")),
        last4=_str(card.get("last4")),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        raw=doc,
    )


def discount(value: Any) -> ProviderDiscount | None:
    """A discount from an id or an expanded ``discount``; its coupon's terms when expanded.

    Since API 2025-09-30 the coupon is under ``source.coupon``; before, ``coupon``.
    """
    if isinstance(value, str):
        return ProviderDiscount(id=value)
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    source = value.get("source") or {}
    coupon = source.get("coupon") if isinstance(source, dict) else None
    coupon = coupon if isinstance(coupon, dict) else value.get("coupon")
    if not isinstance(coupon, dict):
        return ProviderDiscount(id=value["id"])
    percent = coupon.get("percent_off")
    return ProviderDiscount(
        id=value["id"],
        percent_off=float(percent) if isinstance(percent, int | float) else None,
        amount_off=_int(coupon.get("amount_off")) or None,
        currency=_str(coupon.get("currency")),
    )


def _discounts(values: Any) -> tuple[ProviderDiscount, ...]:
    found = (discount(value) for value in values) if isinstance(values, list) else ()
    return tuple(item for item in found if item is not None)


def subscription_item(doc: Doc) -> ProviderSubscriptionItem:
    price = doc.get("price") or {}
    recurring = price.get("recurring") or {}
    return ProviderSubscriptionItem(
        id=doc["id"],
        price_id=ref(price) or "",
        product_id=ref(price.get("product")),
        quantity=_int(doc.get("quantity"), 1),
        unit_amount=price.get("unit_amount"),
        currency=_str(price.get("currency")),
        interval=_str(recurring.get("interval")),
        interval_count=_int(recurring.get("interval_count"), 1) or 1,
        discounts=_discounts(doc.get("discounts")),
        current_period_start=from_timestamp(doc.get("current_period_start")),
        current_period_end=from_timestamp(doc.get("current_period_end")),
    )


def subscription(doc: Doc) -> ProviderSubscription:
    details = doc.get("cancellation_details") or {}
    return ProviderSubscription(
        id=doc["id"],
        customer_id=ref(doc.get("customer")) or "",
        status=doc["status"],
        items=tuple(subscription_item(item) for item in _list_data(doc.get("items"))),
        cancel_at_period_end=bool(doc.get("cancel_at_period_end")),
        cancel_at=from_timestamp(doc.get("cancel_at")),
        canceled_at=from_timestamp(doc.get("canceled_at")),
        ended_at=from_timestamp(doc.get("ended_at")),
        trial_start=from_timestamp(doc.get("trial_start")),
        trial_end=from_timestamp(doc.get("trial_end")),
        latest_invoice_id=ref(doc.get("latest_invoice")),
        default_payment_method_id=ref(doc.get("default_payment_method")),
        cancellation_reason=_str(details.get("reason")) or _str(details.get("feedback")),
        created=from_timestamp(doc.get("created")),
        metadata=_metadata(doc),
        discounts=_discounts(doc.get("discounts")),
        start_date=from_timestamp(doc.get("start_date")),
        raw=doc,
    )


def _invoice_subscription(doc: Doc) -> str | None:
    # Since API 2025-03-31 the subscription is under parent.subscription_details.
    parent = doc.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return ref(details.get("subscription")) or ref(doc.get("subscription"))


def _invoice_payment_intent(doc: Doc) -> str | None:
    # Since API 2025-03-31 invoices reach their payment intents through ``payments`` (expanded).
    for payment in _list_data(doc.get("payments")):
        inner = payment.get("payment") or {}
        intent = ref(inner.get("payment_intent"))
        if intent and payment.get("is_default", True):
            return intent
    return ref(doc.get("payment_intent"))


def invoice(doc: Doc) -> ProviderInvoice:
    transitions = doc.get("status_transitions") or {}
    return ProviderInvoice(
        id=doc["id"],
        customer_id=ref(doc.get("customer")),
        subscription_id=_invoice_subscription(doc),
        status=_str(doc.get("status")),
        currency=_str(doc.get("currency")) or "usd",
        amount_due=_int(doc.get("amount_due")),
        amount_paid=_int(doc.get("amount_paid")),
        amount_remaining=_int(doc.get("amount_remaining")),
        attempt_count=_int(doc.get("attempt_count")),
        number=_str(doc.get("number")),
        billing_reason=_str(doc.get("billing_reason")),
        customer_email=_str(doc.get("customer_email")),
        next_payment_attempt=from_timestamp(doc.get("next_payment_attempt")),
        period_start=from_timestamp(doc.get("period_start")),
        period_end=from_timestamp(doc.get("period_end")),
        paid_at=from_timestamp(transitions.get("paid_at")),
        hosted_invoice_url=_str(doc.get("hosted_invoice_url")),
        payment_intent_id=_invoice_payment_intent(doc),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def refund(doc: Doc) -> ProviderRefund:
    return ProviderRefund(
        id=doc["id"],
        charge_id=ref(doc.get("charge")),
        payment_intent_id=ref(doc.get("payment_intent")),
        amount=_int(doc.get("amount")),
        currency=_str(doc.get("currency")) or "usd",
        status=_str(doc.get("status")) or "pending",
        reason=_str(doc.get("reason")),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def charge(doc: Doc) -> ProviderCharge:
    return ProviderCharge(
        id=doc["id"],
        payment_intent_id=ref(doc.get("payment_intent")),
        customer_id=ref(doc.get("customer")),
        amount=_int(doc.get("amount")),
        currency=_str(doc.get("currency")) or "usd",
        status=_str(doc.get("status")) or "pending",
        amount_refunded=_int(doc.get("amount_refunded")),
        refunded=bool(doc.get("refunded")),
        disputed=bool(doc.get("disputed")),
        failure_code=_str(doc.get("failure_code")),
        failure_message=_str(doc.get("failure_message")),
        payment_method_id=ref(doc.get("payment_method")),
        refunds=tuple(refund(item) for item in _list_data(doc.get("refunds"))),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def payment_intent(doc: Doc) -> ProviderPaymentIntent:
    error = doc.get("last_payment_error") or {}
    return ProviderPaymentIntent(
        id=doc["id"],
        customer_id=ref(doc.get("customer")),
        amount=_int(doc.get("amount")),
        currency=_str(doc.get("currency")) or "usd",
        status=doc["status"],
        amount_received=_int(doc.get("amount_received")),
        latest_charge_id=ref(doc.get("latest_charge")),
        payment_method_id=ref(doc.get("payment_method")),
        description=_str(doc.get("description")),
        failure_code=_str(error.get("decline_code")) or _str(error.get("code")),
        failure_message=_str(error.get("message")),
        metadata=_metadata(doc),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def dispute(doc: Doc) -> ProviderDispute:
    return ProviderDispute(
        id=doc["id"],
        charge_id=ref(doc.get("charge")),
        payment_intent_id=ref(doc.get("payment_intent")),
        amount=_int(doc.get("amount")),
        currency=_str(doc.get("currency")) or "usd",
        status=_str(doc.get("status")) or "needs_response",
        reason=_str(doc.get("reason")),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def line_item(doc: Doc) -> ProviderLineItem:
    price = doc.get("price") or {}
    return ProviderLineItem(
        price_id=ref(price),
        product_id=ref(price.get("product")),
        quantity=_int(doc.get("quantity"), 1),
        amount_total=_int(doc.get("amount_total")),
        currency=_str(doc.get("currency")) or _str(price.get("currency")) or "usd",
    )


def checkout_session(doc: Doc) -> ProviderCheckoutSession:
    details = doc.get("customer_details") or {}
    return ProviderCheckoutSession(
        id=doc["id"],
        mode=_str(doc.get("mode")) or "payment",
        status=_str(doc.get("status")),
        payment_status=_str(doc.get("payment_status")),
        customer_id=ref(doc.get("customer")),
        customer_email=_str(doc.get("customer_email")) or _str(details.get("email")),
        client_reference_id=_str(doc.get("client_reference_id")),
        subscription_id=ref(doc.get("subscription")),
        payment_intent_id=ref(doc.get("payment_intent")),
        setup_intent_id=ref(doc.get("setup_intent")),
        amount_total=doc.get("amount_total"),
        currency=_str(doc.get("currency")),
        expires_at=from_timestamp(doc.get("expires_at")),
        line_items=tuple(line_item(item) for item in _list_data(doc.get("line_items"))),
        metadata=_metadata(doc),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def setup_intent(doc: Doc) -> ProviderSetupIntent:
    error = doc.get("last_setup_error") or {}
    return ProviderSetupIntent(
        id=doc["id"],
        customer_id=ref(doc.get("customer")),
        status=doc["status"],
        payment_method_id=ref(doc.get("payment_method")),
        usage=_str(doc.get("usage")),
        failure_message=_str(error.get("message")),
        created=from_timestamp(doc.get("created")),
        raw=doc,
    )


def event(doc: Doc) -> ProviderEvent:
    data = doc.get("data") or {}
    created = from_timestamp(doc.get("created"))
    assert created is not None, "an event always has 'created'"
    return ProviderEvent(
        id=doc["id"],
        type=doc["type"],
        created=created,
        livemode=bool(doc.get("livemode")),
        api_version=_str(doc.get("api_version")),
        data_object=data.get("object") or {},
        previous_attributes=data.get("previous_attributes"),
        raw=doc,
    )


# The fields each read maps, by Stripe's ``object``, for the objects an event's snapshot may stand
# in for. Stripe renders every field of an object in ``data.object`` (null when unset), so one
# that lacks any of these is a partial object (a test's, a forwarded one) and stands in for nothing.
_SUBSCRIPTION_FIELDS = [
    "id", "customer", "status", "items", "cancel_at_period_end", "cancel_at", "canceled_at",
    "ended_at", "trial_start", "trial_end", "latest_invoice", "default_payment_method",
    "cancellation_details", "created", "metadata", "discounts", "start_date",
]  # fmt: skip
_SNAPSHOTS: dict[str, tuple[frozenset[str], Callable[[Doc], ProviderObject]]] = {
    "customer": (frozenset(["id", "created", "email", "name", "invoice_settings", "metadata"]), customer),
    "payment_method": (frozenset(["id", "customer", "type"]), payment_method),
    "subscription": (frozenset(_SUBSCRIPTION_FIELDS), subscription),
    "setup_intent": (
        frozenset(["id", "customer", "status", "payment_method", "usage", "last_setup_error", "created"]),
        setup_intent,
    ),
    "dispute": (
        frozenset(["id", "charge", "payment_intent", "amount", "currency", "status", "reason", "created"]),
        dispute,
    ),
}


def snapshot(doc: Doc) -> ProviderObject | None:
    """A whole object as an event carries it, mapped as its read maps it; ``None`` for a partial
    one, a deleted one, or a kind not listed in ``_SNAPSHOTS``. Expansions the reads ask for are
    the caller's to check (``StripeProvider.object_from_snapshot``)."""
    kind = doc.get("object")
    found = _SNAPSHOTS.get(kind) if isinstance(kind, str) else None
    if found is None or doc.get("deleted") or not found[0] <= doc.keys():
        return None
    if kind == "payment_method" and doc.get("type") == "card" and not isinstance(doc.get("card"), dict):
        return None
    if kind == "subscription" and not isinstance(doc.get("items"), dict):
        return None
    return found[1](doc)

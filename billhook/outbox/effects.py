"""Side effects the mirror requests from other domains, as outbox jobs: the one list to wire.

* ``entitlements.sync`` {customer_id, user_id, subscription_id, status};
  key ``entitlements:<sub>:<status>:<price>:<quantity>:<period end>`` (one per resulting state).
* ``order.record_paid`` {source: invoice | checkout | payment_intent, ids, amount, currency, …};
  key ``order:<invoice id | checkout session id | payment intent id>``.
* ``order.record_refunded`` {refund_id, payment_intent_id, charge_id, amount_refunded, reason};
  key ``order_refund:<refund id>``; ``amount_refunded`` is the charge's running total.
* ``accounts.provision_customer`` {customer_id, email, event_id}; key
  ``accounts.provision:<customer id>``: a completed checkout whose customer has no user.
* ``subscriptions.invalidate_cache`` and ``payments.invalidate_stats``: requested by
  :func:`billhook.customers.views.views_changed`, once per user and transaction.
* ``email.send`` {template, to, context, key_object}; key ``email:<template>:<to>:<object id>``,
  templates ``payment_failed`` (per failed charge), ``subscription_canceled``, ``refund_issued``.

The job types with a contract (payload model, retry policy) are defined in
:mod:`billhook.outbox.contracts`; these functions build their payloads from provider objects.
Keys are deterministic, so a replayed or duplicated event requests nothing twice; entitlement
keys name the resulting state, so several events that lead to one state sync once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import Customer, Subscription
from billhook.outbox.contracts import (
    PROVISION_CUSTOMER,
    RECORD_PAID,
    RECORD_REFUNDED,
    SEND_EMAIL,
    SYNC_ENTITLEMENTS,
    OrderLine,
    ProvisionCustomer,
    RecordPaid,
    RecordRefunded,
    SendEmail,
    SyncEntitlements,
)
from billhook.providers.base import (
    ProviderCharge,
    ProviderCheckoutSession,
    ProviderInvoice,
    ProviderPaymentIntent,
    ProviderRefund,
)

PAYMENT_FAILED = "payment_failed"
SUBSCRIPTION_CANCELED = "subscription_canceled"
REFUND_ISSUED = "refund_issued"


async def sync_entitlements(
    session: AsyncSession, subscription: Subscription, customer: Customer | None
) -> bool:
    period_end = int(subscription.current_period_end.timestamp()) if subscription.current_period_end else 0
    key = (
        f"entitlements:{subscription.stripe_id}:{subscription.status}:"
        f"{subscription.price_stripe_id}:{subscription.quantity}:{period_end}"
    )
    payload = SyncEntitlements(
        customer_id=customer.stripe_id if customer else None,
        user_id=subscription.user_id,
        subscription_id=subscription.stripe_id,
        status=subscription.status,
    )
    return await SYNC_ENTITLEMENTS.enqueue(session, payload, key=key)


async def record_invoice_paid(session: AsyncSession, invoice: ProviderInvoice) -> bool:
    payload = RecordPaid(
        source="invoice",
        invoice_id=invoice.id,
        subscription_id=invoice.subscription_id,
        customer_id=invoice.customer_id,
        payment_intent_id=invoice.payment_intent_id,
        billing_reason=invoice.billing_reason,
        amount_paid=invoice.amount_paid,
        currency=invoice.currency,
    )
    return await RECORD_PAID.enqueue(session, payload, key=f"order:{invoice.id}")


async def record_checkout_paid(session: AsyncSession, checkout: ProviderCheckoutSession) -> bool:
    payload = RecordPaid(
        source="checkout",
        checkout_session_id=checkout.id,
        customer_id=checkout.customer_id,
        client_reference_id=checkout.client_reference_id,
        payment_intent_id=checkout.payment_intent_id,
        amount_total=checkout.amount_total,
        currency=checkout.currency,
        line_items=[
            OrderLine(
                price_id=li.price_id,
                product_id=li.product_id,
                quantity=li.quantity,
                amount_total=li.amount_total,
            )
            for li in checkout.line_items
        ],
        metadata=dict(checkout.metadata),
    )
    return await RECORD_PAID.enqueue(session, payload, key=f"order:{checkout.id}")


async def record_intent_paid(session: AsyncSession, intent: ProviderPaymentIntent) -> bool:
    payload = RecordPaid(
        source="payment_intent",
        payment_intent_id=intent.id,
        customer_id=intent.customer_id,
        amount=intent.amount_received or intent.amount,
        currency=intent.currency,
        metadata=dict(intent.metadata),
    )
    return await RECORD_PAID.enqueue(session, payload, key=f"order:{intent.id}")


async def record_refund(session: AsyncSession, refund: ProviderRefund, charge: ProviderCharge) -> bool:
    payload = RecordRefunded(
        refund_id=refund.id,
        payment_intent_id=charge.payment_intent_id,
        charge_id=charge.id,
        amount_refunded=charge.amount_refunded,
        reason=refund.reason,
    )
    return await RECORD_REFUNDED.enqueue(session, payload, key=f"order_refund:{refund.id}")


async def provision_customer(
    session: AsyncSession, customer: Customer, email: str | None, event_id: str | None
) -> bool:
    payload = ProvisionCustomer(
        customer_id=customer.stripe_id, email=email or customer.email, event_id=event_id
    )
    key = f"accounts.provision:{customer.stripe_id}"
    return await PROVISION_CUSTOMER.enqueue(session, payload, key=key)


async def send_email(
    session: AsyncSession, template: str, to: str | None, key_object: str, context: dict[str, Any]
) -> bool:
    """Request one email per (template, recipient, causing object); nothing without a recipient."""
    if not to:
        return False
    payload = SendEmail(template=template, to=to, context=context, key_object=key_object)
    return await SEND_EMAIL.enqueue(session, payload, key=f"email:{template}:{to}:{key_object}")

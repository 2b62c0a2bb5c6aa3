"""``OrderJobDispatcher``: the one place that decides which jobs a paid order starts.

=====================  ==========================================  ==============================
order type             item                                        job
=====================  ==========================================  ==============================
new                    domain with ``details['contacts']``         fulfilment.domain_register
new                    plan / hosting                              fulfilment.subscription_activate
renewal                domain                                      fulfilment.domain_renew
subscription_renewal   plan / hosting                              fulfilment.subscription_renew
booking                booking                                     fulfilment.booking_confirm
any                    custom:<name>                               fulfilment.custom
any                    (the order itself)                          webhook.publish order.paid
=====================  ==========================================  ==============================

Every job is enqueued in the caller's transaction with the key (job type, order item, invoice
or payment), so a repeated dispatch for the same payment adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog.kinds import CUSTOM_PREFIX, ItemKind
from billhook.fulfilment.requests import EventType, FulfilmentJob, fulfilment_key, publish_event
from billhook.models import Order, OrderItem, OrderType
from billhook.outbox import FULFILMENT_POLICY, enqueue


def payment_reference(order: Order) -> str:
    """The invoice or payment that paid the order: part of every job key."""
    metadata = order.metadata_ or {}
    return str(
        order.invoice_stripe_id or metadata.get("payment_id") or order.checkout_session_stripe_id or order.id
    )


_DISPATCH: dict[tuple[str, str], FulfilmentJob] = {
    (OrderType.NEW, ItemKind.DOMAIN): FulfilmentJob.DOMAIN_REGISTER,
    (OrderType.NEW, ItemKind.PLAN): FulfilmentJob.SUBSCRIPTION_ACTIVATE,
    (OrderType.NEW, ItemKind.HOSTING): FulfilmentJob.SUBSCRIPTION_ACTIVATE,
    (OrderType.RENEWAL, ItemKind.DOMAIN): FulfilmentJob.DOMAIN_RENEW,
    (OrderType.SUBSCRIPTION_RENEWAL, ItemKind.PLAN): FulfilmentJob.SUBSCRIPTION_RENEW,
    (OrderType.SUBSCRIPTION_RENEWAL, ItemKind.HOSTING): FulfilmentJob.SUBSCRIPTION_RENEW,
    (OrderType.BOOKING, ItemKind.BOOKING): FulfilmentJob.BOOKING_CONFIRM,
}


def job_for(order: Order, item: OrderItem) -> FulfilmentJob | None:
    """The dispatch table above, for one item."""
    if item.kind.startswith(CUSTOM_PREFIX):
        return FulfilmentJob.CUSTOM
    job = _DISPATCH.get((order.type, item.kind))
    if job is FulfilmentJob.SUBSCRIPTION_ACTIVATE and not order.subscription_stripe_id:
        return None  # a one-time plan purchase: its access comes from the entitlements, no term to start
    if job is FulfilmentJob.DOMAIN_REGISTER and not item.details.get("contacts"):
        return None  # a registrar cannot register a domain without its contacts
    return job


def order_event_data(order: Order, items: Sequence[OrderItem]) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "type": order.type,
        "user_id": order.user_id,
        "customer_id": order.customer_id,
        "amount_total": order.amount_total,
        "currency": order.currency,
        "invoice": order.invoice_stripe_id,
        "checkout_session": order.checkout_session_stripe_id,
        "subscription": order.subscription_stripe_id,
        "items": [
            {"id": item.id, "kind": item.kind, "product_id": item.product_id, "quantity": item.quantity}
            for item in items
        ],
    }


class OrderJobDispatcher:
    async def dispatch(self, session: AsyncSession, order: Order, items: Sequence[OrderItem]) -> list[str]:
        """Enqueue the order's jobs; returns the keys of jobs this call added."""
        reference = payment_reference(order)
        added: list[str] = []
        for item in items:
            job_type = job_for(order, item)
            if job_type is None:
                continue
            key = fulfilment_key(job_type, item.id, reference)
            payload = {"order_id": order.id, "order_item_id": item.id, "reference": reference}
            if await enqueue(
                session, job_type, payload, key=key, max_attempts=FULFILMENT_POLICY.max_attempts
            ):
                added.append(key)
        event_key = f"{EventType.ORDER_PAID}:{order.id}"
        if await publish_event(session, EventType.ORDER_PAID, order_event_data(order, items), key=event_key):
            added.append(f"webhook.publish:{event_key}")
        return added

"""Asking for a reaction: enqueue the job in the caller's transaction, keyed so it happens once.

This module depends on the outbox only, so upstream domains (orders, subscriptions,
entitlements) can request emails and outgoing webhook events without importing handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.outbox import enqueue


class FulfilmentJob(StrEnum):
    DOMAIN_REGISTER = "fulfilment.domain_register"
    DOMAIN_RENEW = "fulfilment.domain_renew"
    SUBSCRIPTION_ACTIVATE = "fulfilment.subscription_activate"
    SUBSCRIPTION_RENEW = "fulfilment.subscription_renew"
    BOOKING_CONFIRM = "fulfilment.booking_confirm"
    CUSTOM = "fulfilment.custom"
    WEBHOOK_PUBLISH = "webhook.publish"
    WEBHOOK_DELIVER = "webhook.deliver"


EMAIL_SEND = "email.send"  # handled by billhook.notifications


class EventType(StrEnum):
    """Outgoing webhook event types a host application can subscribe to."""

    ORDER_PAID = "order.paid"
    SUBSCRIPTION_ACTIVATED = "subscription.activated"
    SUBSCRIPTION_RENEWED = "subscription.renewed"
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    PAYMENT_REFUNDED = "payment.refunded"
    ENTITLEMENTS_CHANGED = "entitlements.changed"


def fulfilment_key(job_type: str, order_item_id: str, reference: str) -> str:
    """The job key (job type, order item, invoice or payment): one job per item per payment."""
    return f"{job_type}:{order_item_id}:{reference}"


async def request_email(
    session: AsyncSession, *, template: str, to: str, context: Mapping[str, Any], cause_id: str
) -> bool:
    """Queue an ``email.send`` job; the same template, recipient and cause send once."""
    payload = {"template": template, "to": to, "context": dict(context)}
    return await enqueue(session, EMAIL_SEND, payload, key=f"email:{template}:{to}:{cause_id}")


async def publish_event(
    session: AsyncSession, event_type: EventType | str, data: Mapping[str, Any], *, key: str
) -> bool:
    """Publish an outgoing webhook event to every endpoint subscribed to it, once per ``key``.

    ``key`` names the occurrence (``order.paid:<order id>``); the fan-out to endpoints happens
    in the ``webhook.publish`` job, so endpoints are read when the event is delivered.
    """
    kind = EventType(event_type)
    payload = {"event_type": kind.value, "event_key": key, "data": dict(data)}
    return await enqueue(session, FulfilmentJob.WEBHOOK_PUBLISH, payload, key=f"webhook.publish:{key}")

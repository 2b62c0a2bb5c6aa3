"""Asking for a reaction: enqueue the job in the caller's transaction, keyed so it happens once.

This module depends on the outbox (and reads which outgoing events have a subscriber), so
upstream domains (orders, subscriptions, entitlements) can request emails and outgoing webhook
events without importing handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import WebhookEndpoint
from billhook.outbox.contracts import PUBLISH_WEBHOOK, SEND_EMAIL, PublishWebhook, SendEmail


class FulfilmentJob(StrEnum):
    DOMAIN_REGISTER = "fulfilment.domain_register"
    DOMAIN_RENEW = "fulfilment.domain_renew"
    SUBSCRIPTION_ACTIVATE = "fulfilment.subscription_activate"
    SUBSCRIPTION_RENEW = "fulfilment.subscription_renew"
    BOOKING_CONFIRM = "fulfilment.booking_confirm"
    CUSTOM = "fulfilment.custom"
    WEBHOOK_PUBLISH = "webhook.publish"
    WEBHOOK_DELIVER = "webhook.deliver"


EMAIL_SEND = SEND_EMAIL.name  # handled by billhook.notifications


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
    payload = SendEmail(template=template, to=to, context=dict(context))
    return await SEND_EMAIL.enqueue(session, payload, key=f"email:{template}:{to}:{cause_id}")


async def publish_event(
    session: AsyncSession, event_type: EventType | str, data: Mapping[str, Any], *, key: str
) -> bool:
    """Publish an outgoing webhook event to every endpoint subscribed to it, once per ``key``.

    ``key`` names the occurrence (``order.paid:<order id>``); the fan-out to endpoints happens
    in the ``webhook.publish`` job, so endpoints are read when the event is delivered. With no
    active endpoint subscribed to the type nothing is enqueued: the job would find no endpoint
    (an endpoint added later receives the events that happen after it).
    """
    kind = EventType(event_type)
    if not await has_subscriber(session, kind):
        return False
    payload = PublishWebhook(event_type=kind.value, event_key=key, data=dict(data))
    return await PUBLISH_WEBHOOK.enqueue(session, payload, key=f"webhook.publish:{key}")


async def has_subscriber(session: AsyncSession, event_type: EventType) -> bool:
    """Whether an active endpoint takes ``event_type`` (no ``event_types`` means every event)."""
    subscribed = await session.scalars(select(WebhookEndpoint.event_types).where(WebhookEndpoint.active))
    return any(not types or event_type.value in types for types in subscribed)

"""``billhook webhooks test``: one signed event through the real path, timed end to end.

The event (type ``billhook.webhook_test``, which no handler routes) is signed with the first
configured ``STRIPE_WEBHOOK_SECRET`` the way Stripe signs (``t=…,v1=HMAC-SHA256``), posted to the
configured endpoint, and the inbox table is polled until a worker has marked it processed: the
round trip covers signature check, storage and the worker, not only the HTTP answer.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.config import Settings
from billhook.errors import InvalidInput, Unavailable
from billhook.inbox.signature import signature_header
from billhook.models import InboxEvent
from billhook.models.inbox_events import InboxStatus
from billhook.ops.checks import webhook_url
from billhook.ops.embedded import signing_secrets

TEST_EVENT_TYPE = "billhook.webhook_test"


@dataclass(frozen=True, slots=True)
class WebhookTestResult:
    event_id: str
    url: str
    http_status: int
    accepted_seconds: float
    processed_seconds: float


def webhook_test_body(event_id: str, now: int, livemode: bool) -> bytes:
    payload = {
        "id": event_id,
        "object": "event",
        "type": TEST_EVENT_TYPE,
        "created": now,
        "livemode": livemode,
        "data": {"object": {"id": event_id.replace("evt_", "whtest_"), "object": "billhook_webhook_test"}},
    }
    return json.dumps(payload).encode()


async def _status(factory: async_sessionmaker[AsyncSession], event_id: str) -> tuple[str, str | None] | None:
    async with factory() as session:
        row = (
            await session.execute(
                select(InboxEvent.status, InboxEvent.last_error).where(InboxEvent.event_id == event_id)
            )
        ).first()
    return (row[0], row[1]) if row else None


async def send_test_event(
    settings: Settings, factory: async_sessionmaker[AsyncSession], *, wait_seconds: float = 30.0
) -> WebhookTestResult:
    signing = signing_secrets(settings)
    if not signing:
        raise InvalidInput(
            "STRIPE_WEBHOOK_SECRET is not set: run 'billhook setup' first "
            "(it registers the endpoint and stores the secret)"
        )
    url = webhook_url(settings)
    event_id = f"evt_billhook_test_{secrets.token_hex(8)}"
    now = int(time.time())
    body = webhook_test_body(event_id, now, (settings.stripe_secret_key or "").startswith("sk_live_"))
    header = signature_header(body, (signing[0],), now)
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(timeout=wait_seconds) as client:
            response = await client.post(
                url, content=body, headers={"Stripe-Signature": header, "Content-Type": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"{url} did not answer ({type(exc).__name__}): start Billhook with 'billhook serve', "
            "or set BILLHOOK_BASE_URL to where it runs"
        ) from None
    accepted = time.monotonic() - started
    if response.status_code >= 300:
        raise Unavailable(
            f"{url} refused the signed test event: {response.status_code} {response.text[:200]}"
        )
    deadline = started + wait_seconds
    while True:
        found = await _status(factory, event_id)
        if found is not None and found[0] == InboxStatus.PROCESSED:
            return WebhookTestResult(
                event_id, url, response.status_code, accepted, time.monotonic() - started
            )
        if found is not None and found[0] == InboxStatus.DEAD:
            raise Unavailable(f"the inbox gave up on {event_id}: {found[1]}")
        if time.monotonic() > deadline:
            state = found[0] if found else "not stored in this database"
            raise Unavailable(
                f"{event_id} was accepted but not processed within {wait_seconds:g}s ({state}): "
                "is a worker running?"
            )
        await asyncio.sleep(0.05)

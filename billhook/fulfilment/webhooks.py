"""Outgoing webhooks: endpoints (service functions), fan-out of events, signed delivery.

An event is published with :func:`billhook.fulfilment.requests.publish_event`. The
``webhook.publish`` job writes one :class:`WebhookDelivery` per subscribed endpoint and one
``webhook.deliver`` job each; the delivery id is the ``webhook-id`` header, identical on every
retry, so receivers can de-duplicate. Failed attempts are logged on the delivery row (in
their own transaction, so the log survives the job's rollback) and retried with back-off.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.errors import InvalidInput, NotFound
from billhook.fulfilment import signing
from billhook.fulfilment.requests import EventType, FulfilmentJob
from billhook.kit.ids import new_id
from billhook.models import OutboxJob, WebhookDelivery, WebhookEndpoint
from billhook.outbox import JobContext, PermanentJobError, RetryPolicy, enqueue

# Standard Webhooks suggests retrying for about a day: 10 attempts from 5 s, capped at 2 h.
WEBHOOK_POLICY = RetryPolicy(max_attempts=10, base_delay=timedelta(seconds=5), max_delay=timedelta(hours=2))


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx; the job is retried."""


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    known = {kind.value for kind in EventType}
    unknown = sorted(set(event_types) - known)
    if unknown:
        raise InvalidInput(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return sorted(set(event_types))


async def add_endpoint(
    session: AsyncSession,
    url: str,
    *,
    event_types: Sequence[str] = (),
    description: str | None = None,
    secret: str | None = None,
) -> WebhookEndpoint:
    """Register a receiver; no ``event_types`` means every event. The secret is generated
    unless given (``whsec_`` + base64, as receivers' libraries expect)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput(f"{url!r} is not an http(s) URL")
    try:
        signing.secret_key(secret or signing.generate_secret())
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    endpoint = WebhookEndpoint(
        url=url, secret=secret or signing.generate_secret(), event_types=_check_event_types(event_types),
        description=description, active=True,
    )  # fmt: skip
    session.add(endpoint)
    await session.flush()
    return endpoint


async def list_endpoints(session: AsyncSession) -> Sequence[WebhookEndpoint]:
    statement = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return (await session.execute(statement)).scalars().all()


async def disable_endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    """Stop sending to an endpoint; its delivery log is kept."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}")
    endpoint.active = False
    await session.flush()
    return endpoint


async def list_deliveries(session: AsyncSession, endpoint_id: str | None = None) -> Sequence[WebhookDelivery]:
    statement = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(200)
    if endpoint_id:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    return (await session.execute(statement)).scalars().all()


async def fan_out(ctx: JobContext) -> None:
    """``webhook.publish``: one delivery and one delivery job per subscribed endpoint."""
    event_type, event_key = str(ctx.payload["event_type"]), str(ctx.payload["event_key"])
    now = ctx.runtime.clock.now()
    body = {"type": event_type, "timestamp": now.isoformat(), "data": ctx.payload.get("data", {})}
    table: Table = WebhookDelivery.__table__  # type: ignore[assignment]
    for endpoint in await list_endpoints(ctx.session):
        if not endpoint.active or (endpoint.event_types and event_type not in endpoint.event_types):
            continue
        values = {"id": new_id("msg"), "endpoint_id": endpoint.id, "event_key": event_key,
                  "event_type": event_type, "payload": body, "status": "pending", "attempts": 0,
                  "created_at": now, "updated_at": now}  # fmt: skip
        await insert_ignore(ctx.session, table, values, ["endpoint_id", "event_key"])
        delivery_id = (
            await ctx.session.execute(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_key == event_key
                )
            )
        ).scalar_one()
        await enqueue(
            ctx.session, FulfilmentJob.WEBHOOK_DELIVER, {"delivery_id": delivery_id},
            key=f"webhook.deliver:{delivery_id}", max_attempts=WEBHOOK_POLICY.max_attempts,
        )  # fmt: skip


class WebhookDeliverer:
    """``webhook.deliver``: POST the signed event; ``transport`` is the test seam (httpx)."""

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 10.0) -> None:
        self._transport = transport
        self._timeout = timeout

    async def __call__(self, ctx: JobContext) -> None:
        delivery = await ctx.session.get(WebhookDelivery, ctx.payload["delivery_id"])
        if delivery is None:
            raise PermanentJobError(f"webhook delivery {ctx.payload.get('delivery_id')!r} no longer exists")
        endpoint = await ctx.session.get_one(WebhookEndpoint, delivery.endpoint_id)
        if delivery.status == "delivered":
            return
        if not endpoint.active:
            delivery.status = "skipped"
            await ctx.session.flush()
            return
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        timestamp = int(ctx.runtime.clock.now().timestamp())
        status_code, error = await self._post(endpoint, delivery.id, timestamp, body)
        now = ctx.runtime.clock.now()
        if error is None:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
            delivery.attempts += 1
            delivery.last_status_code = status_code
            await ctx.session.flush()
            return
        await self._log_failure(ctx, delivery.id, status_code, error)
        raise DeliveryFailed(f"{endpoint.url}: {error}")

    async def _post(
        self, endpoint: WebhookEndpoint, message_id: str, timestamp: int, body: str
    ) -> tuple[int | None, str | None]:
        headers = signing.headers(endpoint.secret, message_id, timestamp, body)
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            try:
                response = await client.post(endpoint.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    @staticmethod
    async def _log_failure(ctx: JobContext, delivery_id: str, status_code: int | None, error: str) -> None:
        """Log the attempt in its own transaction: the job's own rolls back when it raises."""
        now = ctx.runtime.clock.now()
        async with ctx.runtime.session_factory() as log_session:
            job = await log_session.get(OutboxJob, ctx.job_id)
            final = job is None or ctx.attempt >= job.max_attempts
            await log_session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(
                    attempts=WebhookDelivery.attempts + 1,
                    last_status_code=status_code,
                    last_error=error,
                    status="failed" if final else "failing",
                    updated_at=now,
                )
            )
            await log_session.commit()

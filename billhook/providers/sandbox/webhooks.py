"""Webhook endpoints, signed deliveries, retries and the chaos switches.

Deliveries are rows in ``sandbox_webhook_deliveries`` (one per attempt, so the table is also the
delivery log). A background task sends the due ones with ``httpx.AsyncClient`` outside the state
lock, so a receiver served by the same process can call the sandbox API while handling them.
The signature is Stripe's scheme (https://docs.stripe.com/webhooks#verify-manually): HMAC-SHA256
of ``f"{t}.{payload}"`` with the endpoint secret, sent as ``Stripe-Signature: t=...,v1=...``; ``t`` is
real wall time (not the test clock) so that receivers' timestamp tolerance checks pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from billhook.kit.tasks import cancel_and_wait

from .config import ChaosSettings
from .errors import invalid
from .ids import new_id, random_token
from .params import Params, merge_metadata
from .store import Doc, Store, Tx, deliveries, events, public

logger = logging.getLogger(__name__)


def chaos_from(value: dict[str, Any]) -> ChaosSettings:
    return ChaosSettings(
        out_of_order=bool(value.get("out_of_order")),
        duplicate=bool(value.get("duplicate")),
        delay=float(value.get("delay") or 0.0),
        drop=float(value.get("drop") or 0.0),
    )


async def current_chaos(tx: Tx) -> ChaosSettings:
    return chaos_from(await tx.get_state("chaos", tx.config.chaos.as_dict()))


async def create_endpoint(tx: Tx, p: Params) -> Doc:
    url = p.require_text("url")
    if not url.startswith(("http://", "https://")):
        raise invalid(
            "url", "Invalid URL: URL must be publicly accessible (http or https).", code="url_invalid"
        )
    enabled = p.texts("enabled_events") or ["*"]
    endpoint: Doc = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": p.text("api_version"),
        "application": None,
        "created": tx.now(),
        "description": p.text("description"),
        "enabled_events": enabled,
        "livemode": False,
        "metadata": p.metadata() or {},
        "status": "enabled",
        "url": url,
        "_secret": "whsec_" + random_token(32),
    }
    return await tx.put(endpoint)


async def update_endpoint(tx: Tx, endpoint: Doc, p: Params) -> Doc:
    if p.has("url"):
        endpoint["url"] = p.require_text("url")
    if p.has("enabled_events"):
        endpoint["enabled_events"] = p.texts("enabled_events") or ["*"]
    if p.has("description"):
        endpoint["description"] = p.text("description") or None
    disabled = p.flag("disabled")
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    endpoint["metadata"] = merge_metadata(endpoint["metadata"], p.metadata())
    return await tx.put(endpoint)


def with_secret(endpoint: Doc) -> Doc:
    """Stripe returns the signing secret only in the response that creates the endpoint."""
    return {**public(endpoint), "secret": endpoint["_secret"]}


def _wants(endpoint: Doc, event_type: str) -> bool:
    return endpoint["status"] == "enabled" and any(e in ("*", event_type) for e in endpoint["enabled_events"])


async def plan_deliveries(tx: Tx, event: Doc) -> int:
    """Queue the event for every matching endpoint, applying the drop/duplicate/delay switches."""
    chaos = await current_chaos(tx)
    chooser = random.SystemRandom()
    endpoints = [
        e for e in await tx.find("webhook_endpoint") if not e.get("deleted") and _wants(e, event["type"])
    ]
    for endpoint in endpoints:
        dropped = chaos.drop > 0 and chooser.random() < chaos.drop
        copies = 2 if chaos.duplicate and not dropped else 1
        for _ in range(copies):
            await tx.conn.execute(
                insert(deliveries).values(
                    endpoint_id=endpoint["id"],
                    url=endpoint["url"],
                    event_id=event["id"],
                    event_type=event["type"],
                    attempt=1,
                    state="dropped" if dropped else "pending",
                    due_at=time.time() + chaos.delay,
                    finished_at=time.time() if dropped else None,
                )
            )
    return len(endpoints)


def sign(payload: str, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_view(row: Any) -> Doc:
    return {
        "id": f"whdel_{row.seq}",
        "object": "sandbox.webhook_delivery",
        "endpoint": row.endpoint_id,
        "url": row.url,
        "event": row.event_id,
        "event_type": row.event_type,
        "attempt": row.attempt,
        "state": row.state,
        "status_code": row.status_code,
        "error": row.error,
        "due_at": row.due_at,
        "finished_at": row.finished_at,
    }


async def delivery_log(tx: Tx, event_id: str | None = None, limit: int = 100) -> list[Doc]:
    query = select(deliveries).order_by(deliveries.c.seq.desc()).limit(limit)
    if event_id is not None:
        query = query.where(deliveries.c.event_id == event_id)
    return [delivery_view(row) for row in await tx.conn.execute(query)]


class Deliverer:
    """The background task that sends due deliveries and schedules retries."""

    def __init__(self, store: Store, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.store = store
        self.wakeup = asyncio.Event()
        self._transport = transport
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sandbox-webhook-deliverer")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        config = self.store.config
        async with httpx.AsyncClient(timeout=config.webhook_timeout, transport=self._transport) as client:
            while True:
                try:
                    await self.deliver_due(client)
                except Exception:  # the loop must outlive one bad batch; the error is logged
                    logger.exception("sandbox webhook delivery batch failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=config.delivery_poll_seconds)
                self.wakeup.clear()

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        async with self.store.transaction() as tx:
            query = (
                select(deliveries)
                .where(deliveries.c.state == "pending", deliveries.c.due_at <= time.time())
                .order_by(deliveries.c.seq)
                .limit(100)
            )
            due = list(await tx.conn.execute(query))
            chaos = await current_chaos(tx)
            endpoints = {row.endpoint_id: await tx.get(row.endpoint_id) for row in due}
            bodies = {row.event_id: await tx.get_event(row.event_id, expired=True) for row in due}
        if chaos.out_of_order:
            random.SystemRandom().shuffle(due)
        for row in due:
            await self._send(client, row, endpoints.get(row.endpoint_id), bodies.get(row.event_id))
        return len(due)

    async def _send(
        self, client: httpx.AsyncClient, row: Any, endpoint: Doc | None, event: Doc | None
    ) -> None:
        status_code: int | None = None
        error: str | None = None
        if endpoint is None or endpoint.get("deleted") or event is None:
            error = "endpoint deleted or event expired"
        else:
            payload = json.dumps(event, indent=2)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(payload, endpoint["_secret"], int(time.time())),
            }
            try:
                response = await client.post(endpoint["url"], content=payload.encode(), headers=headers)
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        await self._record(row, status_code, error, retry_possible=endpoint is not None and event is not None)

    async def _record(
        self, row: Any, status_code: int | None, error: str | None, *, retry_possible: bool
    ) -> None:
        ok = status_code is not None and 200 <= status_code < 300
        schedule = self.store.config.webhook_retry_seconds
        async with self.store.transaction() as tx:
            await tx.conn.execute(
                update(deliveries)
                .where(deliveries.c.seq == row.seq)
                .values(
                    state="succeeded" if ok else "failed",
                    status_code=status_code,
                    error=error,
                    finished_at=time.time(),
                )
            )
            if not ok and retry_possible and row.attempt <= len(schedule):
                await tx.conn.execute(
                    insert(deliveries).values(
                        endpoint_id=row.endpoint_id,
                        url=row.url,
                        event_id=row.event_id,
                        event_type=row.event_type,
                        attempt=row.attempt + 1,
                        state="pending",
                        due_at=time.time() + schedule[row.attempt - 1],
                    )
                )
            if ok or row.attempt > len(schedule) or not retry_possible:
                await self._settle_pending(tx, row.event_id)
            await tx.settle_event(row.event_id)

    async def _settle_pending(self, tx: Tx, event_id: str) -> None:
        """``pending_webhooks`` counts endpoints still owed this event (Stripe's event field)."""
        event = await tx.get_event(event_id, expired=True)
        if event is None:
            return
        event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)
        await tx.conn.execute(update(events).where(events.c.id == event_id).values(data=event))

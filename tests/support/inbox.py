"""Test support: signed event factories, a Billhook app with the webhook router, a sandbox server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from billhook.http.errors import install_error_handlers
from billhook.inbox.endpoints import build_router
from billhook.inbox.signature import signature_header
from billhook.inbox.worker import InboxWorker
from billhook.kit.ids import new_id
from billhook.kit.webhook_secrets import WebhookSecrets
from billhook.providers.sandbox import Sandbox, SandboxConfig
from billhook.providers.stripe import API_VERSION, StripeProvider
from billhook.runtime import Runtime
from tests.support.server import ServerThread, free_port

SECRET = "whsec_test_primary"
OLD_SECRET = "whsec_test_previous"


def event_payload(
    event_type: str = "customer.created",
    *,
    event_id: str | None = None,
    obj: dict[str, Any] | None = None,
    created: int | None = None,
    livemode: bool = False,
    api_version: str | None = API_VERSION,
    padding: int = 0,
) -> dict[str, Any]:
    """A Stripe-shaped event envelope; ``padding`` adds metadata to reach realistic sizes."""
    data_object = obj or {"id": new_id("cus").replace("cus_", "cus_T"), "object": "customer", "email": None}
    if padding:
        data_object = {**data_object, "metadata": {f"k{i}": "v" * 40 for i in range(padding // 48)}}
    return {
        "id": event_id or f"evt_{new_id('x')[2:]}",
        "object": "event",
        "api_version": api_version,
        "created": created or int(time.time()),
        "data": {"object": data_object},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def signed(
    payload: dict[str, Any] | bytes, *secrets: str, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    header = signature_header(body, secrets or (SECRET,), at or int(time.time()))
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def billhook_app(runtime: Runtime, secrets: WebhookSecrets | None = None) -> FastAPI:
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(build_router(secrets or WebhookSecrets([SECRET, OLD_SECRET])))
    return app


class SandboxWithReceiver:
    """The sandbox under ``/sandbox`` and Billhook's webhook receiver, served together.

    The receiver has its own runtime (engine) in the server's loop; tests use another runtime
    on the same database for the worker.
    """

    def __init__(self, sandbox_db: str, receiver_runtime: Runtime, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.root}/sandbox"
        config = SandboxConfig(
            database_url=sandbox_db,
            public_url=self.api_base,
            webhook_retry_seconds=(0.05, 0.1, 0.2),
            delivery_poll_seconds=0.02,
        )
        self.sandbox = Sandbox(config)
        self.secrets = WebhookSecrets()
        self.receiver_runtime = receiver_runtime
        sandbox, runtime = self.sandbox, receiver_runtime

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await sandbox.start()
            yield
            await sandbox.aclose()
            await runtime.aclose()

        app = FastAPI(lifespan=lifespan)
        app.state.runtime = runtime
        install_error_handlers(app)
        app.include_router(build_router(self.secrets))
        app.mount("/sandbox", sandbox.app)
        self.server = ServerThread(app, self.port, timeout_keep_alive=1, timeout_graceful_shutdown=1)

    async def in_server(self, make: Callable[[], Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(make(), self.server.loop)
        return await asyncio.wrap_future(future)

    async def connect_webhooks(self) -> None:
        url = f"{self.root}/api/payments/webhook"
        _, secret = await self.in_server(lambda: self.sandbox.add_webhook_endpoint(url))
        self.secrets.add(secret)

    async def set_chaos(self, **chaos: Any) -> None:
        await self.in_server(lambda: self.sandbox.set_chaos(**chaos))

    async def advance(self, seconds: int) -> None:
        await self.in_server(lambda: self.sandbox.advance_clock(seconds))


class Shop:
    """Drives the sandbox through the official SDK, as a customer and a merchant would."""

    def __init__(self, client: Any) -> None:
        self.client = client  # stripe.StripeClient, reached through StripeProvider.client
        self.v1 = client.v1

    async def customer(self, email: str = "ada@example.com") -> Any:
        return await self.v1.customers.create_async(params={"email": email, "name": "Ada"})

    async def card(self, customer_id: str, token: str = "pm_card_visa") -> Any:
        return await self.v1.payment_methods.attach_async(token, params={"customer": customer_id})

    async def price(self, amount: int = 1500, interval: str | None = "month") -> Any:
        product = await self.v1.products.create_async(params={"name": "Premium"})
        params: dict[str, Any] = {"product": product.id, "unit_amount": amount, "currency": "usd"}
        if interval:
            params["recurring"] = {"interval": interval}
        return await self.v1.prices.create_async(params=params)

    async def subscribe(self, email: str = "ada@example.com", **extra: Any) -> Any:
        customer = await self.customer(email)
        card = await self.card(customer.id)
        price = await self.price()
        params = {"customer": customer.id, "items": [{"price": price.id}], "default_payment_method": card.id}
        return await self.v1.subscriptions.create_async(params={**params, **extra})

    async def pay(self, amount: int = 2500, token: str = "pm_card_visa", **extra: Any) -> Any:
        customer = await self.customer()
        params = {
            "amount": amount,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": token,
            "confirm": True,
            **extra,
        }
        return await self.v1.payment_intents.create_async(params=params)


async def settled(server: SandboxWithReceiver, timeout: float = 15.0) -> None:
    """Wait until the sandbox has no webhook delivery left to attempt."""
    deadline = time.monotonic() + timeout
    while True:
        log = await server.in_server(server.sandbox.deliveries)
        if all(entry["state"] != "pending" for entry in log):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still pending: {[e for e in log if e['state'] == 'pending']}")
        await asyncio.sleep(0.05)


async def all_event_ids(provider: Any, types: list[str] | None = None) -> list[str]:
    """Every event the provider holds, oldest first."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await provider.list_events(starting_after=cursor, types=types)
        ids.extend(event.id for event in page.events)
        if not page.has_more:
            return list(reversed(ids))
        cursor = page.events[-1].id


@dataclass
class InboxStack:
    """Sandbox + Billhook receiver on one server; a worker runtime using the sandbox as provider."""

    server: SandboxWithReceiver
    runtime: Runtime
    provider: StripeProvider
    worker: InboxWorker
    shop: Shop

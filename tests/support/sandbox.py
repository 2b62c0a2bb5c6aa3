"""A real uvicorn server (in a thread) serving the sandbox under /sandbox and a webhook receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import stripe
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from billhook.providers.sandbox import Sandbox, SandboxConfig
from tests.support.server import ServerThread, free_port

T = TypeVar("T")
TEST_KEY = "sk_test_billhook"


@dataclass
class Delivery:
    signature: str
    payload: bytes


@dataclass
class Receiver:
    """Records what the sandbox POSTs to ``/hooks``; answers ``fail_next`` 500s first."""

    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: int = 0

    def clear(self) -> None:
        self.deliveries.clear()
        self.fail_next = 0

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        if self.fail_next > 0:
            self.fail_next -= 1
            return Response("try later", status_code=500)
        self.deliveries.append(Delivery(request.headers.get("stripe-signature", ""), body))
        return Response("ok")


def sandbox_config(database_url: str, port: int, **overrides: Any) -> SandboxConfig:
    config = SandboxConfig(
        database_url=database_url,
        public_url=f"http://127.0.0.1:{port}/sandbox",
        webhook_retry_seconds=(0.05, 0.1, 0.2),
        delivery_poll_seconds=0.02,
        payment_retry_days=(3, 5, 7),
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


class SandboxServer:
    """A running sandbox (mounted under /sandbox like the embedded default) plus the webhook receiver."""

    def __init__(self, config: SandboxConfig, port: int) -> None:
        self.config = config
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        self.sandbox = Sandbox(config)
        self.receiver = Receiver()
        sandbox = self.sandbox

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await sandbox.start()  # a mounted app's lifespan does not run: the parent starts it
            yield
            await sandbox.aclose()

        app = FastAPI(lifespan=lifespan)
        app.mount("/sandbox", sandbox.app)
        app.add_route("/hooks", self.receiver.handle, methods=["POST"])
        self.thread = ServerThread(app, port, loop="asyncio")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.thread.stop()


def start_server(database_url: str) -> SandboxServer:
    port = free_port()
    server = SandboxServer(sandbox_config(database_url, port), port)
    server.start()
    return server


class Harness:
    """One test's view of a running sandbox: the SDK client, a raw HTTP client and the receiver."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.config = server.config
        self.root = server.root
        self.base = server.config.base_url
        self.sandbox = server.sandbox
        self.receiver = server.receiver
        self.client = stripe.StripeClient(
            TEST_KEY,
            base_addresses={"api": self.base},
            http_client=stripe.HTTPXClient(),
            max_network_retries=0,
        )
        self.http = httpx.AsyncClient(timeout=10)

    async def in_server(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a sandbox coroutine on the server's loop (where its engine and lock live)."""
        future = asyncio.run_coroutine_threadsafe(_call(make), self.server.thread.loop)
        return await asyncio.wrap_future(future)

    async def api(self, method: str, path: str, **data: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TEST_KEY}"}
        if method == "GET":
            return await self.http.get(self.base + path, params=data, headers=headers)
        return await self.http.post(self.base + path, data=data, headers=headers)

    async def advance(self, *, days: int = 0, hours: int = 0, seconds: int = 0) -> dict[str, Any]:
        response = await self.api(
            "POST", "/v1/test_helpers/sandbox/advance", days=days, hours=hours, seconds=seconds
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def add_endpoint(self, events: list[str] | None = None) -> str:
        """Register the receiver through the SDK; returns the signing secret."""
        endpoint = await self.client.v1.webhook_endpoints.create_async(
            params={"url": f"{self.root}/hooks", "enabled_events": events or ["*"]}
        )
        assert endpoint.secret is not None
        return endpoint.secret

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the sandbox")
            await asyncio.sleep(0.02)

    async def event_types(self, **filters: Any) -> list[str]:
        events = await self.client.v1.events.list_async(params={"limit": 100, **filters})
        return [event.type for event in reversed(events.data)]

    async def aclose(self) -> None:
        await self.http.aclose()


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()

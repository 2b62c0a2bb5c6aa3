"""The whole product on loopback, as the composition root builds it, for checkout tests and journeys.

``build_runtime`` assembles the runtime (embedded sandbox mounted at ``/sandbox``, its webhook
endpoint pointed at Billhook's receiver, cache, jobs); this adds the checkout and subscription
routers and fast in-process inbox and outbox workers, and serves it all with uvicorn in a thread.
Tests speak HTTP to it and read the database through their own engine.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.accounts.deps import (
    get_passwords,
)
from billhook.accounts.passwords import Passwords
from billhook.app import create_app
from billhook.bootstrap import SandboxCatalogSync, build_runtime
from billhook.catalog import load_catalog
from billhook.catalog.push import apply_plan, current_plan, sync_products
from billhook.db import create_engine, create_session_factory
from billhook.inbox.signature import signature_header
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.models import InboxEvent, InboxStatus, JobStatus, OutboxJob
from billhook.outbox import RetryPolicy
from billhook.outbox.worker import OutboxWorker
from billhook.providers.sandbox import Sandbox, SandboxConfig
from billhook.providers.stripe import SANDBOX_SECRET_KEY, StripeProvider
from billhook.providers.stripe.actions import StripeActions
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.server import ServerThread, free_port

T = TypeVar("T")
CATALOG = Path(__file__).resolve().parents[2] / "billhook.toml"
PASSWORD = "correct horse battery"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def build_app(runtime: Runtime) -> FastAPI:
    app = create_app(runtime.settings, runtime)
    cheap = Passwords.for_tests()
    app.dependency_overrides[get_passwords] = lambda: cheap
    return app


class ShiftClock:
    """The real time plus an offset a test can move forward (the cache's ages use it)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def fast_runtime(
    database_url: str, tmp_path: Path, port: int, clock: ShiftClock, **overrides: Any
) -> Runtime:
    settings = make_settings(
        database_url,
        billhook_base_url=f"http://127.0.0.1:{port}",
        billhook_catalog=str(CATALOG),
        billhook_sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        **overrides,
    )
    runtime = build_runtime(settings, clock=clock, workers=False)
    assert runtime.sandbox is not None
    # The stack syncs the catalog itself, before the test starts, instead of in the background.
    runtime.services = [s for s in runtime.services if not isinstance(s, SandboxCatalogSync)]
    runtime.sandbox.config.delivery_poll_seconds = 0.02
    runtime.sandbox.config.webhook_retry_seconds = (0.05, 0.1, 0.2)
    runtime.services.append(OutboxWorker(runtime, poll_interval=0.05, listen=False))
    options = WorkerOptions(poll_interval=0.05, reconcile_interval=None, policy=RetryPolicy(max_attempts=5))
    options.policy = RetryPolicy(max_attempts=5, base_delay=timedelta(milliseconds=100))
    runtime.services.append(InboxWorker(runtime, options))
    return runtime


@dataclass
class Customer:
    email: str
    headers: dict[str, str]


UNSETTLED_EVENTS = (InboxStatus.PENDING, InboxStatus.PROCESSING, InboxStatus.FAILED)
UNSETTLED_JOBS = (JobStatus.PENDING, JobStatus.RUNNING)


class Stack:
    def __init__(
        self, runtime: Runtime, server: ServerThread, port: int, database_url: str, clock: ShiftClock
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.server = server
        self.root = f"http://127.0.0.1:{port}"
        self.api_base = f"{self.root}/sandbox"
        self.http = httpx.AsyncClient(base_url=self.root, timeout=20)
        self.engine = create_engine(database_url)
        self.db: async_sessionmaker[AsyncSession] = create_session_factory(self.engine)
        self.provider = StripeProvider(SANDBOX_SECRET_KEY, self.api_base, max_network_retries=0)
        self.actions = StripeActions(self.provider.client)

    async def stop_workers(self) -> None:
        """Stop the workers while the server still answers, so none is left retrying a closed socket."""
        for service in self.runtime.services:
            if isinstance(service, InboxWorker | OutboxWorker):
                future = asyncio.run_coroutine_threadsafe(service.aclose(), self.server.loop)
                await asyncio.wrap_future(future)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.provider.aclose()
        await self.engine.dispose()

    async def sync_catalog(self) -> None:
        async with self.db() as session:
            await sync_products(session, self.actions, load_catalog(CATALOG))
            await session.commit()

    async def register(self, email: str) -> Customer:
        response = await self.http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        login = await self.http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return Customer(email, {"Authorization": f"Bearer {login.json()['access_token']}"})

    async def checkout(self, who: Customer, **body: Any) -> httpx.Response:
        return await self.http.post("/api/payments/checkout", json=body, headers=who.headers)

    async def pay(
        self, url: str, card: str = "4242 4242 4242 4242", email: str | None = None
    ) -> httpx.Response:
        """Post the sandbox's hosted checkout form the way a browser would (no redirects followed)."""
        async with httpx.AsyncClient(timeout=20) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            match = FORM_TOKEN.search(page.text)
            assert match is not None, "the checkout page has no form"
            form = {"form_token": match.group(1), "card_number": card, "exp": "12/34", "cvc": "123"}
            if 'name="email"' in page.text:
                form["email"] = email or "guest@example.com"
            return await browser.post(f"{url}/pay", data=form)

    async def subscribe(
        self, who: Customer, product_id: str = "premium_sub", card: str = "4242 4242 4242 4242"
    ) -> str:
        """Checkout through the API and pay on the hosted page; returns the success redirect's path."""
        response = await self.checkout(who, product_id=product_id)
        assert response.status_code == 201, response.text
        paid = await self.pay(response.json()["url"], card)
        assert paid.status_code == 303, paid.text
        location = paid.headers["location"]
        assert location.startswith(self.root), location
        return location.removeprefix(self.root)

    def browser(self) -> httpx.AsyncClient:
        """A client with its own cookie jar (one per simulated person)."""
        return httpx.AsyncClient(base_url=self.root, timeout=20)

    async def me(self, who: Customer) -> dict[str, Any]:
        response = await self.http.get("/api/me", headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def role_becomes(self, who: Customer, role: str, timeout: float = 15.0) -> None:
        async def check() -> bool:
            return bool((await self.me(who))["role"] == role)

        await self.eventually(check, timeout)

    async def deliver_again(self, event_id: str) -> httpx.Response:
        """Post a stored event to Billhook's receiver once more, signed like the sandbox signs it."""
        sandbox = self.runtime.sandbox
        assert sandbox is not None
        url = f"{self.root}/api/payments/webhook"
        future = asyncio.run_coroutine_threadsafe(sandbox.ensure_webhook_endpoint(url), self.server.loop)
        _, secret = await asyncio.wrap_future(future)
        body = json.dumps((await self.provider.retrieve_event(event_id)).raw).encode()
        header = signature_header(body, (secret,), int(time.time()))
        return await self.http.post(
            "/api/payments/webhook",
            content=body,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    async def hold_webhooks(self) -> None:
        """Disable Billhook's endpoint at the sandbox: no event reaches the receiver from now on."""
        for endpoint in await self.actions.list_webhook_endpoints():
            await self.provider.client.v1.webhook_endpoints.update_async(endpoint.id, {"disabled": True})

    async def chaos(self, **switches: Any) -> None:
        await self.sandbox_api("/v1/test_helpers/sandbox/chaos", **switches)

    async def sandbox_api(self, path: str, **data: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
        response = await self.http.post(f"/sandbox{path}", data=data, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def advance(self, *, days: int = 0, hours: int = 0) -> None:
        await self.sandbox_api("/v1/test_helpers/sandbox/advance", days=days, hours=hours)

    async def settled(self, timeout: float = 15.0, quiet_polls: int = 6) -> None:
        """Wait until every stored event is applied, no due job waits, and no new event has come
        in for ``quiet_polls`` polls in a row (the sandbox delivers within milliseconds).

        After it, no late webhook effect (a cache invalidation, say) lands in the middle of a test.
        """
        seen: list[int] = []

        async def check() -> bool:
            now = datetime.now(UTC) + timedelta(seconds=1)
            async with self.db() as session:
                stored = await session.scalar(select(func.count()).select_from(InboxEvent)) or 0
                open_events = await session.scalar(
                    select(func.count()).where(InboxEvent.status.in_(UNSETTLED_EVENTS))
                )
                due_jobs = await session.scalar(
                    select(func.count()).where(
                        OutboxJob.status.in_(UNSETTLED_JOBS), OutboxJob.run_after <= now
                    )
                )
            idle = open_events == 0 and due_jobs == 0
            seen[:] = [*seen, stored] if idle and (not seen or seen[-1] == stored) else []
            return len(seen) >= quiet_polls

        await self.eventually(check, timeout)

    async def eventually(self, check: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
        """Poll ``check`` until it returns something truthy; fail with the last value at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = await check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last value {value!r}")
            await asyncio.sleep(0.05)


def build_sandbox_template(path: Path) -> Path:
    """A sandbox database holding the example catalog, made once per test session and copied per
    test, so each test's catalog sync only lists and records (two calls instead of twenty)."""
    port = free_port()
    sandbox = Sandbox(
        SandboxConfig(
            database_url=f"sqlite+aiosqlite:///{path}", public_url=f"http://127.0.0.1:{port}/sandbox"
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        yield
        await sandbox.aclose()  # closes the last connection: the WAL is folded into the file

    app = FastAPI(lifespan=lifespan)
    app.mount("/sandbox", sandbox.app)
    server = ServerThread(app, port)
    server.start()

    async def sync() -> None:
        provider = StripeProvider(
            SANDBOX_SECRET_KEY, f"http://127.0.0.1:{port}/sandbox", max_network_retries=0
        )
        try:
            actions = StripeActions(provider.client)
            await apply_plan(actions, await current_plan(actions, load_catalog(CATALOG)))
        finally:
            await provider.aclose()

    try:
        asyncio.run(sync())
    finally:
        server.stop()
    return path


@pytest.fixture(scope="session")
def sandbox_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sandbox_template(tmp_path_factory.mktemp("sandbox-template") / "sandbox.db")


@asynccontextmanager
async def running_stack(
    database_url: str, tmp_path: Path, sandbox_template: Path | None = None, **overrides: Any
) -> AsyncIterator[Stack]:
    if sandbox_template is not None:
        shutil.copy(sandbox_template, tmp_path / "sandbox.db")
    port = free_port()
    clock = ShiftClock()
    runtime = fast_runtime(database_url, tmp_path, port, clock, **overrides)
    server = ServerThread(build_app(runtime), port)
    server.start()
    stack = Stack(runtime, server, port, database_url, clock)
    try:
        await stack.sync_catalog()
        yield stack
    finally:
        await stack.aclose()
        await stack.stop_workers()
        server.stop()

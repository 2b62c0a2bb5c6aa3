from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from billhook.config import Settings
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.outbox import RetryPolicy
from billhook.providers.stripe import StripeProvider
from billhook.runtime import Runtime
from tests.support.fake_provider import FakeProvider
from tests.support.inbox import SECRET, InboxStack, SandboxWithReceiver, Shop, billhook_app


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    runtime.provider = FakeProvider()  # the receiver expects the provider's API version
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=billhook_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://billhook.test") as client:
        yield client


@pytest.fixture
async def stack(tmp_path: Path, settings: Settings) -> AsyncIterator[InboxStack]:
    server = SandboxWithReceiver(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}", Runtime.build(settings))
    server.secrets.add(SECRET)
    server.server.start()
    runtime = Runtime.build(settings)
    provider = StripeProvider("sk_test_billhook", server.api_base, max_network_retries=0)
    runtime.provider = provider
    options = WorkerOptions(concurrency=4, reconcile_interval=None, policy=RetryPolicy(max_attempts=3))
    worker = InboxWorker(runtime, options)
    try:
        yield InboxStack(server, runtime, provider, worker, Shop(provider.client))
    finally:
        await worker.aclose()
        await provider.aclose()
        await runtime.aclose()
        server.server.stop()

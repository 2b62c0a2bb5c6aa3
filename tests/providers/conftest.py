from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billhook.providers.stripe import StripeProvider
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.inbox import SandboxWithReceiver, Shop


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxWithReceiver]:
    """A sandbox server; provider tests never touch Billhook's database (so no backend matrix)."""
    unused = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'billhook.db'}")
    server = SandboxWithReceiver(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}", Runtime.build(unused))
    server.server.start()
    yield server
    server.server.stop()


@pytest.fixture
async def provider(sandbox: SandboxWithReceiver) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider("sk_test_billhook", sandbox.api_base, max_network_retries=0)
    yield provider
    await provider.aclose()


@pytest.fixture
def shop(provider: StripeProvider) -> Shop:
    return Shop(provider.client)

"""Fixtures: one sandbox server for the session (reset before every test), driven through the SDK.

The server is a real uvicorn in a thread on a free loopback port, with the sandbox mounted under
``/sandbox`` next to a webhook receiver at ``/hooks``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.sandbox import Harness, SandboxServer, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    running = start_server(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sandbox') / 'sandbox.db'}")
    yield running
    running.stop()


@pytest.fixture
async def sandbox(server: SandboxServer) -> AsyncIterator[Harness]:
    harness = Harness(server)
    await harness.in_server(server.sandbox.reset)
    server.receiver.clear()
    yield harness
    await harness.aclose()

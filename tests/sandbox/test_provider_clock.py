"""Which clock the provider's times are checked against, when Billhook cannot tell from its settings.

A test key on another API base is either the sandbox run on its own (``billhook sandbox serve``)
or a proxy to Stripe: the first ``now()`` asks for the sandbox's clock, and an API without one is
taken for real time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from starlette.types import Receive, Scope, Send

from billhook.config import load_settings
from billhook.providers.stripe import StripeProvider
from billhook.providers.stripe.factory import build_provider
from tests.support.sandbox import TEST_KEY, Harness
from tests.support.server import ServerThread, free_port


async def test_a_test_key_on_a_separate_sandbox_reads_the_sandbox_clock(sandbox: Harness) -> None:
    await sandbox.advance(days=2)
    settings = load_settings(env_file=None, stripe_secret_key=TEST_KEY, stripe_api_base=sandbox.base)
    provider = build_provider(settings)
    try:
        now = await provider.now()  # type: ignore[attr-defined]
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert now >= time.time() + 2 * 86_400 - 60


@pytest.fixture
def stripe_like() -> Iterator[str]:
    """An API that answers every URL as Stripe answers one it does not know (a proxy to Stripe)."""
    unknown = orjson.dumps(
        {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": unknown})

    port = free_port()
    server = ServerThread(app, port, lifespan="off")
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


async def test_an_api_without_the_sandbox_clock_is_taken_for_real_time(stripe_like: str) -> None:
    provider = StripeProvider(TEST_KEY, stripe_like, sandbox=None)
    try:
        first, second = await provider.now(), await provider.now()
    finally:
        await provider.aclose()

    assert abs(first - time.time()) < 60 and abs(second - time.time()) < 60
    assert provider.requests_sent == 1  # asked once, then known


async def test_an_api_that_does_not_answer_is_asked_again_next_time(sandbox: Harness) -> None:
    """Not a 404: nothing is concluded (the sandbox may be restarting); real time meanwhile."""
    provider = StripeProvider(TEST_KEY, f"{sandbox.root}/not-an-api", sandbox=None)
    try:
        first, second = await provider.now(), await provider.now()
    finally:
        await provider.aclose()

    assert abs(first - time.time()) < 60 and abs(second - time.time()) < 60
    assert provider.requests_sent == 2


async def test_a_live_key_is_never_asked_for_a_clock(sandbox: Harness) -> None:
    settings = load_settings(env_file=None, stripe_secret_key="sk_live_x", stripe_api_base=sandbox.base)
    provider = build_provider(settings)
    try:
        now = await provider.now()  # type: ignore[attr-defined]
        sent = provider.requests_sent  # type: ignore[attr-defined]
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert abs(now - time.time()) < 60
    assert sent == 0

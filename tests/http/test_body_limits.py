"""Request heads and bodies are bounded: a slow body is a 408, a large one a 413, huge headers 431."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from billhook.app import create_app
from billhook.bootstrap import build_runtime
from billhook.http.body_limits import BodyLimitsMiddleware
from billhook.inbox.endpoints import WebhookFastPath
from tests.support.databases import make_settings
from tests.support.inbox import SECRET
from tests.support.server import ServerThread, free_port

BODY_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from _serving(tmp_path_factory, fast_path=True)


@pytest.fixture(scope="module")
def router_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The app as a host mounts it: webhooks through the router, not the fast path."""
    yield from _serving(tmp_path_factory, fast_path=False)


def _serving(tmp_path_factory: pytest.TempPathFactory, fast_path: bool) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("limits")
    settings = make_settings(
        f"sqlite:///{directory / 'billhook.db'}",
        billhook_auto_migrate=True,
        billhook_sandbox_database_url=f"sqlite:///{directory / 'sandbox.db'}",
        stripe_webhook_secret=SECRET,
        billhook_request_body_timeout=BODY_TIMEOUT,
        billhook_max_request_body_bytes=64 * 1024,
    )
    chosen = free_port()
    app = create_app(settings, build_runtime(settings))
    server = ServerThread(WebhookFastPath(app) if fast_path else app, chosen)
    server.start()
    yield chosen
    server.stop()


async def _half_sent(port: int, path: str) -> tuple[bytes, float]:
    """Declare a 100-byte body, send 10 bytes, and wait for the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
    )
    writer.write(head.encode() + b'{"email":"')
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    seconds = time.monotonic() - started
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    answer = head + await reader.readexactly(length)
    writer.close()
    return answer, seconds


@pytest.mark.parametrize("server", ["port", "router_port"])
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/payments/webhook"])
async def test_a_body_that_does_not_arrive_in_time_is_a_408(
    request: pytest.FixtureRequest, server: str, path: str
) -> None:
    """Through the fast path and through the router alike: there the webhook path is exempt from
    the middleware, and the receiver's own bound answers."""
    answer, seconds = await _half_sent(request.getfixturevalue(server), path)

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"request_timeout"' in answer
    assert seconds < BODY_TIMEOUT + 2


async def test_a_declared_body_over_the_limit_is_a_413_read_no_further(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post(
            "/api/auth/register", content=b"x" * (64 * 1024 + 1), headers={"content-type": "application/json"}
        )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_a_streamed_body_over_the_limit_is_a_413(port: int) -> None:
    """No Content-Length (chunked): counted as it arrives, refused once past the limit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/auth/register HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"x" * 8192
    with contextlib.suppress(ConnectionError):  # the server may close before all is sent
        for _ in range(9):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    writer.close()

    assert head.startswith(b"HTTP/1.1 413 ")


async def test_headers_over_the_limit_are_a_431(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.get("/api/products", headers={f"x-filler-{n}": "y" * 1000 for n in range(20)})

    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"


async def test_an_ordinary_request_passes(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/api/auth/login", json={"email": "ada@example.com", "password": "x"})

    assert response.status_code == 401


async def test_waiting_for_a_disconnect_after_the_body_is_not_timed_out() -> None:
    """Only the body is bounded: an app that listens for the client going away is left alone."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((await receive())["type"])
        seen.append((await receive())["type"])  # e.g. a streaming response watching for a disconnect

    messages = [{"type": "http.request", "body": b"{}", "more_body": False}, {"type": "http.disconnect"}]

    async def receive() -> Message:
        if len(messages) == 1:
            await asyncio.sleep(BODY_TIMEOUT * 2)
        return messages.pop(0)

    async def send(_message: Message) -> None:
        raise AssertionError("nothing to answer")

    limited = BodyLimitsMiddleware(app, max_body_bytes=1024, body_timeout=BODY_TIMEOUT)
    await limited({"type": "http", "method": "POST", "path": "/", "headers": []}, receive, send)

    assert seen == ["http.request", "http.disconnect"]

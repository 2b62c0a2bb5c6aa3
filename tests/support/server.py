"""One ASGI app served by uvicorn on loopback, in a thread with its own event loop.

Tests talk to it over real HTTP (the SDK, httpx, a browser), as a deployment would; the app's
background tasks (sandbox deliveries, workers) run on the server's loop, not the test's.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from billhook.app import create_app
from billhook.config import Settings
from billhook.inbox.endpoints import WebhookFastPath
from billhook.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    def __init__(self, app: Any, port: int, *, start_timeout: float = 15.0, **config: Any) -> None:
        settings: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **config}
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **settings))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.start_timeout = start_timeout

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@asynccontextmanager
async def serving_billhook(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """``billhook serve``'s app (the webhook fast path around ``create_app``) on a free port, and a
    client of it; stopped afterwards."""
    port = free_port()
    thread = ServerThread(WebhookFastPath(create_app(settings, Runtime.build(settings))), port)
    thread.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        thread.stop()

"""Pure ASGI middleware: bounded request heads and bodies.

- headers larger than ``max_header_bytes`` in all: 431;
- a body larger than ``max_body_bytes`` (declared by ``Content-Length`` or counted as it
  arrives): 413, read no further;
- a body that has not fully arrived ``body_timeout`` seconds after the request started: 408
  (a client that declares 100 bytes and sends 10 no longer holds a connection and a task).

The webhook receiver applies the same limits itself: under ``billhook serve`` it runs before this
middleware, and inside the app its path is exempt (``exempt_paths``), so no delivery is bounded
twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.http.errors import error_response
from billhook.kit.deadlines import Deadlines

MAX_HEADER_BYTES = 16 * 1024


class _BodyTimeout(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


class BodyLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        max_header_bytes: int = MAX_HEADER_BYTES,
        exempt_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_header_bytes = max_header_bytes
        self.exempt_paths = frozenset(exempt_paths)  # apps that bound their own bodies
        self._deadlines = Deadlines()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", ())
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            message = f"the request headers exceed {self.max_header_bytes} bytes"
            await error_response(431, "headers_too_large", message)(scope, receive, send)
            return
        if scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        deadline = time.monotonic() + self.body_timeout
        received = 0
        started = body_done = False

        async def bounded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            remaining = deadline - time.monotonic()
            try:
                message = await self._deadlines.wait(receive(), max(remaining, 0.0))
            except TimeoutError:
                raise _BodyTimeout from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except _BodyTimeout:
            if not started:
                message = f"the request body did not arrive within {self.body_timeout:g} s"
                await error_response(408, "request_timeout", message, headers={"connection": "close"})(
                    scope, receive, send
                )
        except _BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body exceeds {self.max_body_bytes} bytes"
        response = error_response(413, "payload_too_large", message, headers={"connection": "close"})
        await response(scope, receive, send)

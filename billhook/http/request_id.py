"""Pure ASGI middleware: every request gets an id, echoed in ``X-Request-ID`` and in the logs.

Pure ASGI (not ``BaseHTTPMiddleware``) keeps the webhook hot path cheap.
"""

from __future__ import annotations

import re
import secrets

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SAFE = re.compile(rb"^[A-Za-z0-9._:-]{1,100}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(HEADER, b"")
        request_id = incoming if _SAFE.match(incoming) else f"req_{secrets.token_hex(8)}".encode()
        text = request_id.decode()
        scope.setdefault("state", {})["request_id"] = text

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((HEADER, request_id))
            await send(message)

        # bind + reset by token: ``bound_contextvars`` also reads the whole context on every
        # request, a measurable share of the webhook hot path's CPU.
        tokens = structlog.contextvars.bind_contextvars(request_id=text)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

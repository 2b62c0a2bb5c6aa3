"""Pure ASGI middleware: text PostgreSQL cannot store is refused before any route runs.

PostgreSQL's ``text`` cannot hold the NUL character (U+0000), and a lone UTF-16 surrogate
(U+D800..U+DFFF, which JSON's ``\\uXXXX`` escapes can spell) cannot be encoded as UTF-8 at all;
either reaching a query fails inside the driver, which used to answer 500. Checking once here,
for every route, is what keeps "bad input is a 4xx" true for routes written later too:

- a path with such a character names nothing: 404 ``not_found``;
- a query string, a JSON body or a form body with one: 422 ``validation_error``.

Bodies are only parsed when they could hold one (a ``\\u`` escape, a raw NUL, or ``%00``), so
ordinary requests pay a byte search. The webhook receiver has its own strict reader and the
mounted sandbox speaks Stripe's error shape, so the app exempts both (``exempt_prefixes``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.http.errors import error_response

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MAX_INSPECTED_BODY = 1 << 20  # larger bodies are refused by the size limit, not parsed here


def storable(text: str) -> bool:
    """True when PostgreSQL can store ``text`` as it is."""
    return UNSTORABLE.search(text) is None


def _strings(value: Any) -> Iterable[str]:
    """Every string in a decoded JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _query_is_storable(raw: bytes) -> bool:
    if b"%00" not in raw.lower() and b"\x00" not in raw:
        return True
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return all(storable(key) and storable(value) for key, value in pairs)


def _json_is_storable(body: bytes) -> bool:
    if b"\\u" not in body and b"\x00" not in body:
        return True
    try:
        document = json.loads(body)
    except ValueError:
        return True  # not JSON: the route's own validation answers 422 json_invalid
    return all(storable(text) for text in _strings(document))


def body_is_storable(content_type: str, body: bytes) -> bool:
    if "json" in content_type:
        return _json_is_storable(body)
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _query_is_storable(body)
    if content_type.startswith("multipart/form-data"):
        return b"\x00" not in body
    return True


class StorableInputMiddleware:
    """Answers 404/422 in the one error shape for input PostgreSQL cannot store."""

    def __init__(self, app: ASGIApp, exempt_prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.exempt_prefixes = tuple(exempt_prefixes)  # apps with their own readers and error shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if not storable(path):  # ``path`` is already percent-decoded
            await error_response(404, "not_found", "no such resource")(scope, receive, send)
            return
        if not _query_is_storable(scope.get("query_string", b"")):
            await _refuse("query string")(scope, receive, send)
            return
        if scope.get("method") in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            await self.app(scope, receive, send)
            return
        await self._check_body(scope, receive, send)

    async def _check_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False) or len(body) > _MAX_INSPECTED_BODY:
                break
        headers = dict(scope.get("headers", ()))
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if len(body) <= _MAX_INSPECTED_BODY and not body_is_storable(content_type, bytes(body)):
            await _refuse("request body")(scope, receive, send)
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _refuse(where: str) -> Any:
    return error_response(
        422,
        "validation_error",
        f"{where}: text may not contain NUL (U+0000) or unpaired surrogate characters",
    )

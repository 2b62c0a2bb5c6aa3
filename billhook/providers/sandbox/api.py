"""The HTTP shell of the Stripe-compatible API: auth, routing, params, idempotency, errors.

Every ``/v1/...`` request runs in one sandbox transaction. Handlers return the public JSON body;
this module applies ``expand[]``, refuses parameters nobody read (Stripe's ``parameter_unknown``),
and replays responses for a repeated ``Idempotency-Key``
(https://docs.stripe.com/api/idempotent_requests).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from .config import API_VERSION
from .errors import (
    CardDeclined,
    IdempotencyConflict,
    InvalidRequest,
    StripeError,
    Unauthenticated,
    UnknownUrl,
)
from .ids import random_token
from .params import Params, decode
from .render import expand
from .store import Doc, Store, Tx

logger = logging.getLogger(__name__)


@dataclass
class Call:
    store: Store
    params: Params
    args: dict[str, str]
    request_id: str
    idempotency_key: str | None
    _tx: Tx | None = None

    @property
    def tx(self) -> Tx:
        assert self._tx is not None, "this route runs outside a transaction"
        return self._tx

    def arg(self, name: str) -> str:
        return self.args[name]


Handler = Callable[[Call], Awaitable[Doc]]


@dataclass
class Route:
    method: str
    segments: list[str]
    handler: Handler
    transactional: bool


class ApiRouter:
    """A small table of ``METHOD /v1/path/{arg}`` routes; order matters for literal segments."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, method: str, pattern: str, *, transactional: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern.strip("/").split("/"), handler, transactional))
            return handler

        return register

    def include(self, other: ApiRouter) -> None:
        self.routes.extend(other.routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for route in self.routes:
            if route.method != method or len(route.segments) != len(parts):
                continue
            args: dict[str, str] = {}
            for segment, part in zip(route.segments, parts, strict=True):
                if segment.startswith("{"):
                    args[segment[1:-1]] = part
                elif segment != part:
                    break
            else:
                return route, args
        return None


def _json(body: Doc, status: int, request_id: str, extra: dict[str, str] | None = None) -> JSONResponse:
    headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers)


def check_key(request: Request, prefix: str) -> None:
    header = request.headers.get("authorization", "")
    key = ""
    if header.lower().startswith("bearer "):
        key = header[7:].strip()
    elif header.lower().startswith("basic "):
        try:
            key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except ValueError:
            key = ""
    if not key:
        raise Unauthenticated(
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
        )
    if not key.startswith(prefix):
        raise Unauthenticated(
            f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}. The Billhook sandbox "
            f"only accepts test keys ({prefix}...)."
        )


async def read_params(request: Request) -> dict[str, Any]:
    if request.method == "POST":
        body = (await request.body()).decode()
        return decode(parse_qsl(body, keep_blank_values=True))
    return decode(request.query_params.multi_items())


class Dispatcher:
    def __init__(self, store: Store, router: ApiRouter) -> None:
        self.store = store
        self.router = router

    async def handle(self, request: Request) -> JSONResponse:
        request_id = "req_" + random_token(14)
        try:
            return await self._handle(request, request_id)
        except StripeError as error:
            return _json(error.body(), error.status, request_id)
        except Exception:  # a sandbox bug must still answer in Stripe's shape, never a bare 500 page
            logger.exception("sandbox request failed")
            return _json(StripeError("The sandbox hit an internal error.").body(), 500, request_id)

    async def _handle(self, request: Request, request_id: str) -> JSONResponse:
        check_key(request, self.store.config.test_key_prefix)
        path = "/v1/" + str(
            request.path_params.get("path", "")
        )  # relative to wherever the sandbox is mounted
        found = self.router.match(request.method, path)
        if found is None:
            raise UnknownUrl(f"Unrecognized request URL ({request.method}: {path}).")
        route, args = found
        raw = await read_params(request)
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        call = Call(self.store, Params(raw), args, request_id, key)
        paths = call.params.texts("expand") or []
        if not route.transactional:
            body = await route.handler(call)
            _refuse_unknown(call.params)
            return _json(body, 200, request_id)
        fingerprint = hashlib.sha256(
            json.dumps([request.method, path, raw], sort_keys=True).encode()
        ).hexdigest()
        async with self.store.transaction(request_id, key) as tx:
            call._tx = tx
            if key is not None:
                replay = await tx.idempotent_response(key)
                if replay is not None:
                    return _replay(replay, fingerprint, key, request_id)
            status, body = await _run(call, route.handler, paths)
            if key is not None:
                await tx.remember_response(key, fingerprint, status, body)
        return _json(body, status, request_id, {"Idempotency-Key": key} if key else None)


async def _run(call: Call, handler: Handler, paths: list[str]) -> tuple[int, Doc]:
    try:
        body = await handler(call)
    except CardDeclined as error:
        if not error.keep_state:
            raise
        return error.status, error.body()
    _refuse_unknown(call.params)
    return 200, await expand(call.tx, body, paths)


def _refuse_unknown(params: Params) -> None:
    unknown = params.unknown()
    if unknown:
        raise InvalidRequest(
            f"Received unknown parameter: {unknown[0]}", code="parameter_unknown", param=unknown[0]
        )


def _replay(replay: tuple[str, int, Doc], fingerprint: str, key: str, request_id: str) -> JSONResponse:
    stored_fingerprint, status, body = replay
    if stored_fingerprint != fingerprint:
        raise IdempotencyConflict(
            "Keys for idempotent requests can only be used with the same parameters they were first used "
            "with. "
            f"Try using a key other than '{key}' if you meant to execute a different request."
        )
    return _json(body, status, request_id, {"Idempotent-Replayed": "true", "Idempotency-Key": key})

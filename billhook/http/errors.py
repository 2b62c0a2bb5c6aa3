"""Every 4xx/5xx answer has one shape: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from billhook.errors import BillhookError
from billhook.logging import get_logger

log = get_logger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    503: "unavailable",
}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    fields = [{"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg")} for e in errors]
    first = fields[0] if fields else {"field": "body", "message": "invalid"}
    if errors and errors[0].get("type") == "json_invalid":
        message = "request body is not valid JSON"
    else:
        message = f"{first['field']}: {first['message']}"
    return error_response(422, "validation_error", message, fields=fields)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _billhook_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BillhookError)
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.code, error=exc.message)
    retry_after = exc.details.get("retry_after_seconds")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return error_response(exc.status_code, exc.code, exc.message, headers=headers, **exc.details)


# What a database that is down, frozen or saturated raises: a timeout (connect, pool checkout,
# statement), a broken connection. Answered 503 (retry later), not 500 (a bug).
_UNAVAILABLE = (
    TimeoutError,
    ConnectionError,
    sqlalchemy_exc.TimeoutError,
    sqlalchemy_exc.OperationalError,
    sqlalchemy_exc.InterfaceError,
)


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, _UNAVAILABLE):
        return True
    original = getattr(exc, "orig", None)
    return original is not None and type(original).__name__ in {
        "QueryCanceledError",
        "ConnectionDoesNotExistError",
    }


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        log.warning("database_unavailable", error_type=type(exc).__name__)
        return error_response(503, "unavailable", "the database is unavailable; retry later")
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(BillhookError, _billhook_error)
    app.add_exception_handler(Exception, _unexpected_error)

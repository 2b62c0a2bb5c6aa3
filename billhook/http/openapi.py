"""The OpenAPI schema lists every error response each operation can give, in the one error shape.

Most of an operation's errors follow from how it is built, and are derived here so that a route
added later is documented too:

- every operation: 422 (a query string PostgreSQL cannot store, a bad parameter), 431 (headers
  too large) and 503 (the database or another dependency is unavailable);
- an operation with a body: 400 (unparseable), 408 (the body did not arrive in time) and 413;
- an operation behind the authentication dependency: 401, 403 (a role, or a cookie write
  without its CSRF token or from another origin) and 404 (what the caller may not see);
- an operation with path parameters: 404.

What only the domain knows (a conflict with the current state, throttling, the payment
provider's refusal) is in :data:`DOMAIN_ERRORS`, keyed by method and path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict

ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"


class ErrorDetail(BaseModel):
    """``code`` is stable for programs, ``message`` is for people; some errors add fields."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int, str] = {
    400: "The body could not be parsed",
    401: "Not signed in, or the credentials are wrong or expired",
    403: "Not allowed: a missing role, or a cookie write without its CSRF token or from another origin",
    404: "No such resource, or one the caller may not see",
    408: "The request body did not arrive in time",
    409: "The request conflicts with the resource's current state",
    413: "The request body or headers are too large",
    422: "Invalid input",
    429: "Too many attempts: retry after the Retry-After header's seconds",
    431: "The request headers are too large",
    502: "The payment provider refused or failed; the message says why",
    503: "The database or another dependency is unavailable; retry later",
}

_PROVIDER = (404, 409, 502)
DOMAIN_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/api/auth/register"): (409, 429),
    ("POST", "/api/auth/login"): (401, 429),
    ("POST", "/api/auth/password-reset"): (429,),
    ("POST", "/api/auth/password-reset/confirm"): (401,),
    ("POST", "/api/payments/checkout"): _PROVIDER,
    ("GET", "/api/subscription"): (404,),
    ("POST", "/api/subscription/cancel"): _PROVIDER,
    ("POST", "/api/subscription/resume"): _PROVIDER,
    ("POST", "/api/subscription/change-plan"): _PROVIDER,
    ("POST", "/api/subscription/retry-payment"): _PROVIDER,
    ("POST", "/api/payments/portal"): _PROVIDER,
    ("POST", "/api/payments/{payment_id}/refund"): (409, 502),
    ("POST", "/api/bookings"): (409,),
    ("POST", "/api/bookings/{booking_id}/checkout"): _PROVIDER,
    ("GET", "/dev/mailbox"): (404,),
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for ``statuses``, from the one table, in the one error shape."""
    return {
        str(status): {
            "description": ERROR_RESPONSES[status],
            "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}},
        }
        for status in sorted(statuses)
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def route_errors(route: Any, method: str, authentication: Callable[..., Any]) -> set[int]:
    """Every error status ``route`` can answer for ``method``."""
    statuses = {422, 431, 503}
    dependant = route.dependant
    if dependant.body_params:
        statuses |= {400, 408, 413}
    if authentication in set(_calls(dependant)):
        # 404 too: what a signed-in caller may not see is answered as if it did not exist
        # (an admin-only route for a customer, another customer's object).
        statuses |= {401, 403, 404}
    if dependant.path_params:
        statuses.add(404)
    statuses.update(DOMAIN_ERRORS.get((method, route.path_format), ()))
    return statuses


def document_errors(app: FastAPI, authentication: Callable[..., Any]) -> None:
    """Make ``app.openapi()`` list each operation's error responses, all in the one shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components.update(
            ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")["$defs"]
        )
        components["ErrorResponse"] = {
            key: value
            for key, value in ErrorResponse.model_json_schema(
                ref_template="#/components/schemas/{model}"
            ).items()
            if key != "$defs"
        }
        # Routers are included lazily (FastAPI's route contexts): walk them as the schema does.
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is not None:
                    responses = operation.setdefault("responses", {})
                    responses.update(error_responses(*route_errors(route, method, authentication)))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

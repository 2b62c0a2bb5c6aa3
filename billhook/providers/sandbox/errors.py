"""Stripe-shaped errors. Each one renders as ``{"error": {...}}`` with Stripe's status code.

    StripeError (500 api_error)
    ├── InvalidRequest (400 invalid_request_error)  — bad or missing params; the SDK's InvalidRequestError
    │   ├── ResourceMissing (404 resource_missing)
    │   ├── UnknownUrl (404)
    │   └── IdempotencyConflict (400 idempotency_error) — the SDK's IdempotencyError
    ├── Unauthenticated (401 invalid_request_error)  — the SDK's AuthenticationError
    └── CardDeclined (402 card_error)                — the SDK's CardError

See https://docs.stripe.com/api/errors for the body and the codes.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    status = 500
    type = "api_error"

    def __init__(
        self, message: str, *, code: str | None = None, param: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://docs.stripe.com/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(StripeError):
    status = 400
    type = "invalid_request_error"


class ResourceMissing(InvalidRequest):
    status = 404

    def __init__(self, kind: str, object_id: str, *, param: str = "id") -> None:
        super().__init__(f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


class UnknownUrl(InvalidRequest):
    status = 404


class IdempotencyConflict(InvalidRequest):
    type = "idempotency_error"


class Unauthenticated(InvalidRequest):
    status = 401


class CardDeclined(StripeError):
    """``keep_state``: the failed attempt stays recorded (Stripe keeps a declined charge); when false the
    whole request is rolled back (e.g. ``payment_behavior=error_if_incomplete``)."""

    status = 402
    type = "card_error"

    def __init__(self, message: str, *, keep_state: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.keep_state = keep_state


def missing(param: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid(param: str, message: str, *, code: str = "parameter_invalid") -> InvalidRequest:
    return InvalidRequest(message, code=code, param=param)

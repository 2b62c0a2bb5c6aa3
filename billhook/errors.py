"""The one error tree. Each error carries its HTTP status and a message a user can act on.

    BillhookError (500 internal_error)
    ├── NotFound (404 not_found)           — also for what a caller may not see
    ├── Conflict (409 conflict)
    ├── InvalidInput (422 validation_error)
    ├── Unauthorized (401 unauthorized)
    ├── TooManyRequests (429 rate_limited)
    ├── ProviderError (502 provider_error) — the payment provider refused or failed
    │   └── ProviderRateLimited (503 provider_rate_limited, Retry-After) — still 429 after retries
    └── Unavailable (503 unavailable)     — a dependency is down; retry later

HTTP shells turn any of these into ``{"error": {"code": ..., "message": ...}}``; the CLI prints
the message and exits non-zero.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BillhookError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(BillhookError):
    status_code = 404
    code = "not_found"


class Conflict(BillhookError):
    status_code = 409
    code = "conflict"


class InvalidInput(BillhookError):
    status_code = 422
    code = "validation_error"


class Unauthorized(BillhookError):
    status_code = 401
    code = "unauthorized"


class TooManyRequests(BillhookError):
    status_code = 429
    code = "rate_limited"


class ProviderError(BillhookError):
    status_code = 502
    code = "provider_error"


class ProviderRateLimited(ProviderError):
    """The provider kept answering 429 (too many requests): try again later, not a failure of ours.

    ``retry_after_seconds`` becomes the answer's ``Retry-After`` header."""

    status_code = 503
    code = "provider_rate_limited"


class Unavailable(BillhookError):
    status_code = 503
    code = "unavailable"

"""Account errors, grafted onto the one error tree (:mod:`billhook.errors`).

BillhookError
├── Forbidden (403 forbidden)
│   └── CsrfRejected (403 csrf_failed)      — a cookie-authenticated write without its token
├── BadToken (400 token_invalid)            — forged or malformed signed token
│   ├── TokenExpired (400 token_expired)
│   └── TokenUsed (400 token_used)          — a reset link already used (password changed)
├── Unauthorized → InvalidCredentials (401 invalid_credentials)
├── Conflict → EmailTaken (409 email_taken)
└── TooManyRequests → LoginThrottled (429 rate_limited)
"""

from __future__ import annotations

from billhook.errors import BillhookError, Conflict, TooManyRequests, Unauthorized


class Forbidden(BillhookError):
    status_code = 403
    code = "forbidden"


class CsrfRejected(Forbidden):
    code = "csrf_failed"


class BadToken(BillhookError):
    status_code = 400
    code = "token_invalid"


class TokenExpired(BadToken):
    code = "token_expired"


class TokenUsed(BadToken):
    code = "token_used"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class EmailTaken(Conflict):
    code = "email_taken"


class LoginThrottled(TooManyRequests):
    pass

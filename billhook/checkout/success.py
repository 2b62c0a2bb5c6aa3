"""The signed success token carried by a Checkout success URL.

The success URL is fixed when the session is created, before the provider has named the
session, so the token binds the user and *our* order id; the success page checks both against
the session's row. It is signed with ``BILLHOOK_SECRET_KEY`` (itsdangerous, salted) and expires,
so a leaked or guessed URL cannot sign anyone in or be replayed later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "billhook.checkout.success"
TOKEN_TTL = timedelta(hours=25)  # a Checkout Session lives at most 24 hours


class InvalidSuccessToken(Exception):
    """Missing, forged or expired: the page says so and changes nothing."""


@dataclass(frozen=True, slots=True)
class SuccessClaims:
    user_id: str
    order_id: str


class SuccessTokens:
    def __init__(self, secret_key: str, ttl: timedelta = TOKEN_TTL) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self.ttl = ttl

    def issue(self, user_id: str, order_id: str) -> str:
        return str(self._serializer.dumps({"u": user_id, "o": order_id}))

    def read(self, token: str | None) -> SuccessClaims:
        if not token:
            raise InvalidSuccessToken("the link has no token")
        try:
            data = self._serializer.loads(token, max_age=int(self.ttl.total_seconds()))
        except SignatureExpired:
            raise InvalidSuccessToken("the link has expired") from None
        except BadSignature:
            raise InvalidSuccessToken("the link is not valid") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), str)
            or not isinstance(data.get("o"), str)
        ):
            raise InvalidSuccessToken("the link is not valid")
        return SuccessClaims(user_id=data["u"], order_id=data["o"])

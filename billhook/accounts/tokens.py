"""Signed tokens (itsdangerous) for sessions and password resets, with expiry from the injected clock.

Each kind has its own salt, so a reset token is never accepted as a session and vice versa.
Both carry ``fp``, a keyed fingerprint of the password hash at issue time: changing the password
kills every earlier session and makes a reset link single-use without storing it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from billhook.accounts.errors import BadToken, TokenExpired

ACCESS = "billhook.access"
PASSWORD_RESET = "billhook.password-reset"  # noqa: S105 (a salt name, not a secret)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    token_id: str
    expires_at: datetime
    fingerprint: str


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def issue(
        self, kind: str, user_id: str, fingerprint: str, expires_at: datetime
    ) -> tuple[str, TokenClaims]:
        claims = TokenClaims(user_id, secrets.token_urlsafe(12), expires_at, fingerprint)
        payload = {
            "sub": claims.user_id,
            "jti": claims.token_id,
            "exp": int(expires_at.timestamp()),
            "fp": fingerprint,
        }
        return str(self._serializer(kind).dumps(payload)), claims

    def read(self, kind: str, token: str, now: datetime) -> TokenClaims:
        """Verify the signature and expiry; raises :class:`BadToken` or :class:`TokenExpired`."""
        claims = self.read_unexpired_or_not(kind, token)
        if claims is None:
            raise BadToken("this link or token is not valid; request a new one")
        if claims.expires_at <= now:
            raise TokenExpired("this link or token has expired; request a new one")
        return claims

    def read_unexpired_or_not(self, kind: str, token: str) -> TokenClaims | None:
        """The claims of a well-signed token whatever its age, or None."""
        try:
            payload: Any = self._serializer(kind).loads(token)
        except (BadData, UnicodeError):
            return None
        if not isinstance(payload, dict):
            return None
        try:
            return TokenClaims(
                user_id=str(payload["sub"]),
                token_id=str(payload["jti"]),
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
                fingerprint=str(payload["fp"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    def _serializer(self, kind: str) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret_key, salt=kind)


def expiry(now: datetime, ttl: timedelta) -> datetime:
    return (now + ttl).replace(microsecond=0)

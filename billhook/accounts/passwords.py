"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).

:class:`Passwords` is injected into the account service, so tests can use cheap parameters
(``Passwords.for_tests()``) and production keeps argon2-cffi's.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @classmethod
    def for_tests(cls) -> Passwords:
        """Argon2id with minimal cost: the same code paths, a thousandth of the time."""
        return cls(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

    @cached_property
    def _dummy_hash(self) -> str:
        # Verified against when the email is unknown, so both paths cost one verification.
        return self._hasher.hash("billhook-no-such-user")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            matched = self._hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def fingerprint(secret_key: str, password_hash: str | None) -> str:
    """A short keyed digest of the current hash: tokens carrying it die when the password changes."""
    digest = hmac.new(secret_key.encode(), (password_hash or "").encode(), hashlib.sha256)
    return digest.hexdigest()[:16]

"""Verifying the ``Stripe-Signature`` header (https://docs.stripe.com/webhooks#verify-manually).

The header is ``t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]``; each ``v1`` is
HMAC-SHA256(secret, ``"<t>.<raw body>"``). Stripe sends one ``v1`` per active secret during a
rotation, so an event passes when any ``v1`` matches any configured secret. Unlike
stripe-python we also refuse timestamps more than ``tolerance`` seconds in the *future*: a
signed body with a far-future ``t`` would otherwise stay replayable for as long as it likes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

TOLERANCE_SECONDS = 300
_MAX_HEADER = 8192
_MAX_SIGNATURES = 32


class SignatureError(Exception):
    """The request is not a verifiable Stripe delivery; ``code`` names why (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature Stripe computes for ``payload`` at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: Iterable[str], timestamp: int) -> str:
    """A ``Stripe-Signature`` header value with one ``v1`` per secret (as during a rotation)."""
    parts = [f"t={timestamp}", *(f"v1={sign(payload, secret, timestamp)}" for secret in secrets)]
    return ",".join(parts)


def parse_header(header: str) -> tuple[int, list[str]]:
    """Split a header into its timestamp and its ``v1`` signatures; other schemes are ignored."""
    if len(header) > _MAX_HEADER:
        raise SignatureError("malformed_signature_header", "Stripe-Signature header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_signature_header", "Stripe-Signature items must be key=value")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError(
                    "malformed_signature_header", "Stripe-Signature needs exactly one numeric t="
                )
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("malformed_signature_header", "Stripe-Signature has no timestamp (t=)")
    if not signatures:
        raise SignatureError("malformed_signature_header", "Stripe-Signature has no v1 signature")
    if len(signatures) > _MAX_SIGNATURES:
        raise SignatureError("malformed_signature_header", "Stripe-Signature has too many signatures")
    return timestamp, signatures


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` for ``payload``; return its timestamp or raise :class:`SignatureError`."""
    if not header:
        raise SignatureError("missing_signature", "the Stripe-Signature header is missing")
    timestamp, signatures = parse_header(header)
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            "timestamp_out_of_tolerance",
            f"the signature timestamp is more than {tolerance} s from the server's time",
        )
    expected = [sign(payload, secret, timestamp).encode() for secret in secrets]
    # Compare every pair in constant time; no early exit that would leak which one matched.
    matched = False
    for candidate in signatures:
        given = candidate.encode("ascii", "replace")
        for wanted in expected:
            matched |= hmac.compare_digest(given, wanted)
    if not matched:
        raise SignatureError("signature_mismatch", "no v1 signature matches a configured webhook secret")
    return timestamp

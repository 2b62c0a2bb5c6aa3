"""Sortable, prefixed identifiers (``usr_01J…``): 48 bits of milliseconds, 80 random bits."""

from __future__ import annotations

import base64
import secrets
import time

# Crockford base32 (no I, L, O, U) in place of RFC 4648's alphabet, digit for digit.
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _encode80(value: int) -> str:
    """An 80-bit value as 16 base32 digits, most significant first (one C call, no loop)."""
    return base64.b32encode(value.to_bytes(10, "big")).decode("ascii").translate(_CROCKFORD)


def new_id(prefix: str) -> str:
    """A new id such as ``pay_01JD3…``; ids made later sort after ids made earlier (per ms)."""
    millis = time.time_ns() // 1_000_000
    # 10 digits = 50 bits: the 48-bit time with two zero bits above it, left-aligned in 80 bits.
    stamp = _encode80(millis << 30)[:10]
    return f"{prefix}_{stamp}{_encode80(secrets.randbits(80))}"

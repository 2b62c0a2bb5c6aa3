"""Sortable, prefixed identifiers (``usr_01J…``): 48 bits of milliseconds, 80 random bits."""

from __future__ import annotations

import secrets
import time

# Crockford base32 (no I, L, O, U); each 10 bits are two digits, looked up at once.
_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(high + low for high in _DIGITS for low in _DIGITS)


def _encode50(value: int) -> str:
    """A value below 2**50 as 10 base32 digits, most significant first."""
    pairs = _PAIRS
    return (
        pairs[value >> 40 & 1023]
        + pairs[value >> 30 & 1023]
        + pairs[value >> 20 & 1023]
        + pairs[value >> 10 & 1023]
        + pairs[value & 1023]
    )


def _encode80(value: int) -> str:
    """A value below 2**80 as 16 base32 digits, most significant first."""
    return _encode50(value >> 50)[4:] + _encode50(value & (2**50 - 1))


def new_id(prefix: str) -> str:
    """A new id such as ``pay_01JD3…``; ids made later sort after ids made earlier (per ms)."""
    # 10 digits = 50 bits: the 48-bit millisecond time with two zero bits above it.
    return f"{prefix}_{_encode50(time.time_ns() // 1_000_000)}{_encode80(secrets.randbits(80))}"

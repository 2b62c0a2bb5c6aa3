"""Stripe-looking identifiers: a type prefix and random base62, e.g. ``cus_4fG9...``."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_token(length)}"


def client_secret(object_id: str) -> str:
    return f"{object_id}_secret_{random_token(24)}"

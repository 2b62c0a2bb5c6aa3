"""What buying a product fulfils: the one list of item kinds.

A catalog product's ``fulfilment`` (``billhook.toml``) and an order line's ``kind`` take these
values; the order dispatcher (``billhook/orders/dispatch.py``) maps each to its fulfilment job.
``custom:<name>`` goes to a host application's entry point (``billhook/fulfilment/hooks.py``).
"""

from __future__ import annotations

import re
from enum import StrEnum


class ItemKind(StrEnum):
    """What an order line is; ``plan`` and ``hosting`` are both periods of service."""

    PLAN = "plan"
    HOSTING = "hosting"
    DOMAIN = "domain"
    BOOKING = "booking"
    CREDITS = "credits"


CUSTOM_PREFIX = "custom:"
_CUSTOM = re.compile(r"^custom:[a-z0-9][a-z0-9_.-]*$")
KINDS_DESCRIBED = ", ".join(kind.value for kind in ItemKind) + f" or {CUSTOM_PREFIX}<name>"


def is_item_kind(value: str) -> bool:
    """One of :class:`ItemKind`, or ``custom:`` and a name of lower-case letters, digits, ``_.-``."""
    return value in ItemKind.__members__.values() or bool(_CUSTOM.match(value))

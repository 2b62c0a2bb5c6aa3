"""Provider-neutral inputs and states for orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from billhook.catalog.kinds import CUSTOM_PREFIX, KINDS_DESCRIBED, ItemKind, is_item_kind
from billhook.models.orders import OrderStatus

# The kinds live in billhook.catalog.kinds and the statuses beside the table (billhook.models.orders).
__all__ = ["CUSTOM_PREFIX", "ItemKind", "OrderItemInput", "OrderStatus"]


@dataclass(frozen=True, slots=True)
class OrderItemInput:
    """One line of a paid order.

    ``details`` carries what fulfilment needs: ``domain``, ``years`` and ``contacts`` for a
    domain; ``period_end`` (ISO 8601) for a plan; ``booking_id`` for a booking.
    """

    kind: str
    unit_amount: int
    quantity: int = 1
    product_id: str | None = None
    price_stripe_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        if not is_item_kind(self.kind):
            found.append(f"unknown item kind {self.kind!r} (use {KINDS_DESCRIBED})")
        if self.quantity < 1:
            found.append("quantity must be at least 1")
        if self.unit_amount < 0:
            found.append("unit_amount must not be negative")
        if self.kind == ItemKind.DOMAIN and not self.details.get("domain"):
            found.append("a domain item needs details['domain']")
        return found

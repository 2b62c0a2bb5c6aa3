"""Provider-neutral inputs and states for orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class ItemKind(StrEnum):
    """What an order line is; ``custom:<name>`` kinds go to a host's entry point."""

    PLAN = "plan"
    HOSTING = "hosting"
    DOMAIN = "domain"
    BOOKING = "booking"
    CREDITS = "credits"


CUSTOM_PREFIX = "custom:"


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
        known = {kind.value for kind in ItemKind}
        if self.kind not in known and not (self.kind.startswith(CUSTOM_PREFIX) and len(self.kind) > 7):
            found.append(f"unknown item kind {self.kind!r} (use {', '.join(sorted(known))} or custom:<name>)")
        if self.quantity < 1:
            found.append("quantity must be at least 1")
        if self.unit_amount < 0:
            found.append("unit_amount must not be negative")
        if self.kind == ItemKind.DOMAIN and not self.details.get("domain"):
            found.append("a domain item needs details['domain']")
        return found

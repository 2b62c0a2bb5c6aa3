"""The payment state machine: the only place that decides whether a payment's status may move.

    PENDING ──► SUCCEEDED ──► PARTIALLY_REFUNDED ──► REFUNDED
       │            ▲   └──────────────────────────────▲
       └──► FAILED ─┘

FAILED → SUCCEEDED is a later successful attempt of the same intent. A move is allowed when the
target is reachable along these arrows, so a missed intermediate event (PENDING straight to
REFUNDED) is still applied; any other move — backwards, such as SUCCEEDED → PENDING from a late
older event, or out of a final state — is refused and logged, and the payment stays as it is.
"""

from __future__ import annotations

from billhook.logging import get_logger
from billhook.models import PaymentStatus

log = get_logger(__name__)

TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SUCCEEDED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}


def reachable(current: PaymentStatus, target: PaymentStatus) -> bool:
    """True when ``target`` can follow ``current`` through one or more allowed transitions."""
    seen: set[PaymentStatus] = set()
    frontier = [current]
    while frontier:
        for following in TRANSITIONS[frontier.pop()]:
            if following == target:
                return True
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


def next_status(current: PaymentStatus, target: PaymentStatus, *, payment: str) -> PaymentStatus:
    """The status to store: ``target`` when allowed (or unchanged), else ``current`` (logged)."""
    if current == target or reachable(current, target):
        return target
    log.warning("payment_transition_refused", payment=payment, current=current.value, target=target.value)
    return current

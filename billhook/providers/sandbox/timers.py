"""When each stored object next needs the test clock's attention (``None``: never).

The store keeps this as an indexed ``due_at`` column, so advancing the clock is "take the earliest
due object, move time there, act on it, repeat" (see ``scheduler.py``).
"""

from __future__ import annotations

from typing import Any

from .config import DAY

TRIAL_WILL_END_NOTICE = 3 * DAY  # https://docs.stripe.com/billing/subscriptions/trials#trial-will-end
INCOMPLETE_EXPIRY = 23 * 3600  # https://docs.stripe.com/billing/subscriptions/overview#payment-window
LIVE_SUBSCRIPTION = ("active", "trialing", "past_due")


def due_at(doc: dict[str, Any]) -> int | None:
    kind = doc.get("object")
    if kind == "subscription":
        return _subscription_due(doc)
    if kind == "invoice" and doc.get("status") == "open" and doc.get("auto_advance"):
        attempt = doc.get("next_payment_attempt")
        return int(attempt) if attempt is not None else None
    if kind == "checkout.session" and doc.get("status") == "open":
        return int(doc["expires_at"])
    return None


def _subscription_due(doc: dict[str, Any]) -> int | None:
    if doc.get("status") == "incomplete":
        return int(doc["created"]) + INCOMPLETE_EXPIRY
    if doc.get("status") not in LIVE_SUBSCRIPTION:
        return None
    period_end = period_end_of(doc)
    candidates = [period_end]
    if doc.get("cancel_at") is not None:
        candidates.append(int(doc["cancel_at"]))
    if doc.get("status") == "trialing" and not doc.get("_trial_will_end_sent") and doc.get("trial_end"):
        candidates.append(int(doc["trial_end"]) - TRIAL_WILL_END_NOTICE)
    return min(candidates)


def period_end_of(subscription: dict[str, Any]) -> int:
    return min(int(item["current_period_end"]) for item in subscription["items"]["data"])


def period_start_of(subscription: dict[str, Any]) -> int:
    return min(int(item["current_period_start"]) for item in subscription["items"]["data"])

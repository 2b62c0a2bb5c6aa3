"""Ending a subscription: shared by cancellation, the test clock and failed-payment dunning."""

from __future__ import annotations

from .store import Doc, Tx


async def end_subscription(tx: Tx, subscription: Doc, reason: str) -> None:
    now = tx.now()
    subscription.update(status="canceled", ended_at=now, canceled_at=subscription["canceled_at"] or now)
    subscription["cancellation_details"]["reason"] = subscription["cancellation_details"]["reason"] or reason
    await tx.put(subscription)
    await tx.emit("customer.subscription.deleted", subscription)

"""The one place that marks a customer's cached views stale.

Whatever changes a subscription, an invoice's effect on it, a payment or an entitlement in the
mirror calls :func:`views_changed` in the same transaction. It enqueues the jobs that forget the
user's cached subscription overview (``GET /api/subscription``, ``/account``) and bump the
payment statistics' generation (``GET /api/payments``); being outbox rows, they run only once the
change has committed, so a reader cannot cache the old state again in between (invalidating
before the commit could). One pair of jobs per user and transaction, however many rows changed.

The job types' contracts are in :mod:`billhook.outbox.contracts`; their handlers live downstream
(``billhook.subscriptions.cache_jobs``, ``billhook.payments.stats_jobs``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.kit.ids import new_id
from billhook.outbox.contracts import (
    INVALIDATE_PAYMENT_STATS,
    INVALIDATE_SUBSCRIPTION_CACHE,
    InvalidatePaymentStats,
    InvalidateSubscriptionCache,
)

_SEEN = "billhook.views_changed"


def _unit_of_work(session: AsyncSession) -> tuple[str, set[str | None]]:
    """A token for the session's current transaction and the users already marked in it."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_SEEN)
    if kept is None or kept[0] is not transaction:
        kept = (transaction, new_id("uow"), set())
        session.info[_SEEN] = kept
    _, token, marked = kept
    return token, marked


async def views_changed(session: AsyncSession, user_id: str | None) -> None:
    """The mirror changed something ``user_id`` (or, without a user, only the statistics) shows."""
    token, marked = _unit_of_work(session)
    if user_id in marked:
        return
    marked.add(user_id)
    if user_id is not None:
        key = f"subscription_cache:{user_id}:{token}"
        await INVALIDATE_SUBSCRIPTION_CACHE.enqueue(
            session, InvalidateSubscriptionCache(user_id=user_id), key=key
        )
    # The same key for the whole transaction: the statistics are bumped once.
    await INVALIDATE_PAYMENT_STATS.enqueue(session, InvalidatePaymentStats(), key=f"payment_stats:{token}")

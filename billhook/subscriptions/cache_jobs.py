"""The ``subscriptions.invalidate_cache`` job: forget a user's cached subscription overview.

:func:`billhook.customers.views.views_changed` requests it whenever the mirror changes what a
user's overview shows, so the job runs only
after that change has committed (invalidating inside the webhook's transaction could let a
concurrent reader cache the old row again before the commit).
"""

from __future__ import annotations

from billhook.outbox import JobContext, JobRegistry
from billhook.outbox.contracts import INVALIDATE_SUBSCRIPTION_CACHE
from billhook.subscriptions.overview import invalidate_subscription_cache


async def invalidate_cache(ctx: JobContext) -> None:
    if ctx.runtime.cache is not None:
        payload = INVALIDATE_SUBSCRIPTION_CACHE.read(ctx.payload)
        await invalidate_subscription_cache(ctx.runtime.cache, payload.user_id)


def register_jobs(registry: JobRegistry) -> None:
    registry.register(INVALIDATE_SUBSCRIPTION_CACHE, invalidate_cache)

"""The ``subscriptions.invalidate_cache`` job: forget a user's cached subscription overview.

The inbox enqueues it whenever a webhook changes a mirrored subscription, so the job runs only
after that change has committed (invalidating inside the webhook's transaction could let a
concurrent reader cache the old row again before the commit).
"""

from __future__ import annotations

from billhook.outbox import JobContext, JobRegistry, RetryPolicy
from billhook.subscriptions.overview import invalidate_subscription_cache

INVALIDATE_CACHE = "subscriptions.invalidate_cache"


async def invalidate_cache(ctx: JobContext) -> None:
    if ctx.runtime.cache is not None:
        await invalidate_subscription_cache(ctx.runtime.cache, str(ctx.payload["user_id"]))


def register_jobs(registry: JobRegistry) -> None:
    registry.register(INVALIDATE_CACHE, invalidate_cache, RetryPolicy(max_attempts=3))

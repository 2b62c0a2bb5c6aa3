"""The ``payments.invalidate_stats`` job: the admin list's cached statistics are out of date.

The inbox enqueues it (keyed by the causing event) when a webhook changes a payment, so it runs
after that change commits.
"""

from __future__ import annotations

from billhook.outbox import JobContext, JobRegistry, RetryPolicy
from billhook.payments.stats import invalidate_payment_stats

INVALIDATE_STATS = "payments.invalidate_stats"


async def invalidate_stats(ctx: JobContext) -> None:
    if ctx.runtime.cache is not None:
        await invalidate_payment_stats(ctx.runtime.cache)


def register_jobs(registry: JobRegistry) -> None:
    registry.register(INVALIDATE_STATS, invalidate_stats, RetryPolicy(max_attempts=3))

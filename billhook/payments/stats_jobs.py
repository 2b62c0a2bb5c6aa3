"""The ``payments.invalidate_stats`` job: the admin list's cached statistics are out of date.

:func:`billhook.customers.views.views_changed` requests it (once per transaction) whenever the
mirror changes what the statistics count, so it runs after that change commits.
"""

from __future__ import annotations

from billhook.outbox import JobContext, JobRegistry
from billhook.outbox.contracts import INVALIDATE_PAYMENT_STATS
from billhook.payments.stats import invalidate_payment_stats


async def invalidate_stats(ctx: JobContext) -> None:
    if ctx.runtime.cache is not None:
        await invalidate_payment_stats(ctx.runtime.cache)


def register_jobs(registry: JobRegistry) -> None:
    registry.register(INVALIDATE_PAYMENT_STATS, invalidate_stats)

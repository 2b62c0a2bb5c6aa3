"""Payment statistics for the admin list, cached under a versioned key.

The key is ``billhook:v1:payments:stats:v2:<generation>``. A payment change does not delete the
entry: it bumps the generation counter (:func:`invalidate_payment_stats`), so a reader racing a
writer can at worst store an entry under a generation nobody reads again, never a stale one under
the current generation. Entries also expire after ``STATS_TTL_SECONDS`` as a backstop for
changes made by paths that do not bump (the inbox, until it calls the bump).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import BillhookCache
from billhook.kit.money import Money
from billhook.models import Payment, PaymentStatus

STATS_KEY = ("payments", "stats", "v2")
GENERATION_KEY = ("payments", "stats", "v2", "generation")
STATS_TTL_SECONDS = 300.0
GENERATION_TTL_SECONDS = 365 * 86400.0
_SUCCESSFUL = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


@dataclass(frozen=True, slots=True)
class StatusTotal:
    status: str
    currency: str
    count: int
    amount: int
    amount_display: str


@dataclass(frozen=True, slots=True)
class PaymentStats:
    totals: list[StatusTotal]
    count: int
    disputed: int
    success_rate: float | None  # succeeded (incl. later refunded) over settled attempts

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def compute_stats(session: AsyncSession) -> PaymentStats:
    rows = await session.execute(
        select(Payment.status, Payment.currency, func.count(), func.coalesce(func.sum(Payment.amount), 0))
        .group_by(Payment.status, Payment.currency)
        .order_by(Payment.status, Payment.currency)
    )
    totals = [
        StatusTotal(status, currency, int(count), int(amount), Money(int(amount), currency).format())
        for status, currency, count, amount in rows.all()
    ]
    disputed = await session.scalar(select(func.count()).select_from(Payment).where(Payment.disputed))
    succeeded = sum(t.count for t in totals if t.status in _SUCCESSFUL)
    settled = succeeded + sum(t.count for t in totals if t.status == PaymentStatus.FAILED)
    return PaymentStats(
        totals=totals,
        count=sum(t.count for t in totals),
        disputed=int(disputed or 0),
        success_rate=round(succeeded / settled, 4) if settled else None,
    )


async def _generation(cache: BillhookCache) -> str:
    return str(await cache.count(*GENERATION_KEY))


async def payment_stats(session: AsyncSession, cache: BillhookCache) -> tuple[PaymentStats, bool]:
    """The statistics and whether they came from the cache."""
    key = (*STATS_KEY, await _generation(cache))
    cached = await cache.get(*key)
    if isinstance(cached, dict):
        totals = [StatusTotal(**total) for total in cached["totals"]]
        return PaymentStats(totals, cached["count"], cached["disputed"], cached["success_rate"]), True
    stats = await compute_stats(session)
    await cache.set(*key, value=stats.as_dict(), ttl_seconds=STATS_TTL_SECONDS)
    return stats, False


async def invalidate_payment_stats(cache: BillhookCache) -> None:
    """Call after any payment change commits (or is about to): the next read recomputes."""
    await cache.incr(*GENERATION_KEY, ttl_seconds=GENERATION_TTL_SECONDS)

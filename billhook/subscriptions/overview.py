"""``GET /api/subscription``: the subscription overview, cached per user; ``GET /api/subscriptions``.

Plan, status, period end, cancel flag, trial end, card and upcoming invoice, computed from the
mirror (and the provider for what the mirror lacks), cached for five minutes and refreshed in
the background after two (``billhook/subscriptions/management_endpoints.py``). Any change to a
user's subscription forgets the entry (:func:`invalidate_subscription_cache`): the management
actions do it at once, the inbox through the ``subscriptions.invalidate_cache`` job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import BillhookCache
from billhook.catalog.kinds import ItemKind
from billhook.checkout.domains import METADATA_KEY as DOMAIN_KEY
from billhook.errors import BillhookError
from billhook.kit.clock import Clock
from billhook.models import PaymentMethod, Product, Subscription, User
from billhook.providers.actions import ProviderActions
from billhook.providers.base import PaymentProvider
from billhook.subscriptions.repository import live_with_products

CACHE_NAMESPACE = "subscription"


class OverviewDeps(Protocol):
    """What the overview reads with (a :class:`billhook.subscriptions.management.ManagementDeps`)."""

    @property
    def session(self) -> AsyncSession: ...

    @property
    def actions(self) -> ProviderActions: ...

    @property
    def provider(self) -> PaymentProvider: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def cache(self) -> BillhookCache: ...


async def invalidate_subscription_cache(cache: BillhookCache, user_id: str) -> None:
    """Forget the cached ``GET /api/subscription`` of a user (call it after any change)."""
    await cache.delete(CACHE_NAMESPACE, user_id)


CACHE_TTL_SECONDS = 300
REFRESH_AFTER_SECONDS = 120


async def _card(deps: OverviewDeps, row: Subscription) -> dict[str, str | None] | None:
    query = select(PaymentMethod)
    if row.default_payment_method_stripe_id:
        query = query.where(PaymentMethod.stripe_id == row.default_payment_method_stripe_id)
    elif row.customer_id:
        query = query.where(PaymentMethod.customer_id == row.customer_id).order_by(
            PaymentMethod.is_default.desc()
        )
    else:
        return None
    method = await deps.session.scalar(query.limit(1))
    if method is None and row.default_payment_method_stripe_id:
        try:
            found = await deps.provider.get_payment_method(row.default_payment_method_stripe_id)
        except BillhookError:
            return None
        return {"brand": found.brand, "last4": found.last4}
    return {"brand": method.brand, "last4": method.last4} if method else None


async def _upcoming(deps: OverviewDeps, row: Subscription) -> dict[str, Any] | None:
    if row.cancel_at_period_end or row.status not in ("active", "trialing", "past_due"):
        return None
    try:
        preview = await deps.actions.preview_upcoming_invoice(subscription_id=row.stripe_id)
    except BillhookError:
        return None  # the overview still shows the rest; the next refresh tries again
    when = preview.next_payment_attempt or preview.period_end or row.current_period_end
    return {
        "amount_due": preview.amount_due,
        "currency": preview.currency,
        "date": when.isoformat() if when else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _kind(product: Product | None) -> str:
    """``domain`` for a domain subscription, ``plan`` for any other (checkout's one-plan rule)."""
    return "domain" if product is not None and product.fulfilment == ItemKind.DOMAIN.value else "plan"


def _domain(row: Subscription) -> str | None:
    """The name a domain subscription pays for (its metadata, set at checkout)."""
    metadata = row.raw.get("metadata") if isinstance(row.raw, dict) else None
    name = metadata.get(DOMAIN_KEY) if isinstance(metadata, dict) else None
    return str(name) if name else None


async def subscription_overview(deps: OverviewDeps, user: User) -> dict[str, Any]:
    """Plan, status, period end, cancel flag, trial end, card, upcoming invoice (JSON-ready).

    "The subscription" is the user's plan whenever they have one, whichever they bought first;
    with domain subscriptions only, the newest of those (``kind`` says which). It is the one the
    management actions act on without a ``subscription_id``; every live one is in
    :func:`subscription_list`.
    """
    rows = await live_with_products(deps.session, user.id)
    if not rows:
        return {"has_subscription": False}
    row, product = rows[0]
    return {
        "has_subscription": True,
        "kind": _kind(product),
        "domain": _domain(row),
        "subscription_id": row.stripe_id,
        "plan": row.product_id,
        "plan_name": product.name if product else row.product_id,
        "status": row.status,
        "current_period_end": _iso(row.current_period_end),
        "cancel_at_period_end": row.cancel_at_period_end,
        "trial_end": _iso(row.trial_end),
        "card": await _card(deps, row),
        "upcoming_invoice": await _upcoming(deps, row),
    }


@dataclass(frozen=True, slots=True)
class CachedOverview:
    data: dict[str, Any]
    age_seconds: float

    @property
    def stale(self) -> bool:
        """Older than two minutes: serve it, and refresh it in the background."""
        return self.age_seconds > REFRESH_AFTER_SECONDS


async def store_overview(cache: BillhookCache, user_id: str, data: dict[str, Any], now: datetime) -> None:
    entry = {"data": data, "stored_at": now.timestamp()}
    await cache.set(CACHE_NAMESPACE, user_id, value=entry, ttl_seconds=CACHE_TTL_SECONDS)


async def cached_overview(deps: OverviewDeps, user: User) -> CachedOverview:
    """The cached overview (five minutes), computed and stored when absent."""
    now = deps.clock.now()
    entry = await deps.cache.get(CACHE_NAMESPACE, user.id)
    if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
        return CachedOverview(entry["data"], now.timestamp() - float(entry.get("stored_at", 0)))
    data = await subscription_overview(deps, user)
    await store_overview(deps.cache, user.id, data, now)
    return CachedOverview(data, 0.0)


async def subscription_list(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Every live subscription of the user: the plan first, then domain subscriptions, newest first."""
    return [
        {
            "subscription_id": row.stripe_id,
            "kind": _kind(product),
            "product_id": row.product_id,
            "product_name": product.name if product else row.product_id,
            "domain": _domain(row),
            "status": row.status,
            "current_period_end": row.current_period_end,
            "cancel_at_period_end": row.cancel_at_period_end,
            "trial_end": row.trial_end,
        }
        for row, product in await live_with_products(session, user.id)
    ]

"""Managing a user's subscription through the provider: cancel, resume, change plan, retry, portal.

Each action calls the provider with an idempotency key that names the intended change (so a
retried request changes nothing twice), then applies the provider's returned subscription
through :func:`sync_subscription`, the webhook's own mirror service, so the API answers with the
new state before the webhook arrives. Entitlements follow through the same path as webhooks
(an ``entitlements.sync`` outbox row) and are also synced at once. Services only flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.cache import BillhookCache
from billhook.checkout.repository import customer_of_user, live_subscriptions
from billhook.config import Settings
from billhook.customers.service import customer_by_stripe_id
from billhook.db.locks import hold_mirror_of
from billhook.entitlements import sync_entitlements
from billhook.entitlements.service import grace_period
from billhook.errors import BillhookError, Conflict, InvalidInput, NotFound
from billhook.kit.clock import Clock
from billhook.models import CancellationRecord, Customer, PaymentMethod, Price, Product, Subscription, User
from billhook.outbox import effects
from billhook.providers.actions import InvoicePreview, ProrationBehavior, ProviderActions
from billhook.providers.base import PaymentProvider, ProviderSubscription
from billhook.subscriptions.service import sync_subscription

CACHE_NAMESPACE = "subscription"
PRORATION: ProrationBehavior = "always_invoice"  # the prorated difference is invoiced and charged at once


@dataclass
class ManagementDeps:
    session: AsyncSession
    actions: ProviderActions
    provider: PaymentProvider
    settings: Settings
    clock: Clock
    cache: BillhookCache


async def invalidate_subscription_cache(cache: BillhookCache, user_id: str) -> None:
    """Forget the cached ``GET /api/subscription`` of a user (call it after any change)."""
    await cache.delete(CACHE_NAMESPACE, user_id)


async def subscription_of(
    session: AsyncSession, user: User, subscription_id: str | None = None
) -> Subscription:
    """The user's live subscription (the newest), or the named one if it is theirs; else 404."""
    rows = await live_subscriptions(session, user.id)
    if subscription_id is not None:
        rows = [row for row in rows if subscription_id in (row.stripe_id, row.id)]
    if not rows:
        raise NotFound("no such subscription" if subscription_id else "you have no subscription")
    return rows[0]


async def _subscription_to_change(
    session: AsyncSession, user: User, subscription_id: str | None
) -> Subscription:
    """The subscription an action changes, read again once its customer's mirror is held.

    Held until the request commits, so the inbox worker cannot write an older copy of it,
    fetched before the action, over the action's result (see :func:`hold_mirror_of`).
    """
    row = await subscription_of(session, user, subscription_id)
    customer = await session.get(Customer, row.customer_id) if row.customer_id else None
    if customer is not None:
        await hold_mirror_of(session, customer.stripe_id)
        await session.refresh(row)
    return row


async def _apply(
    deps: ManagementDeps, user: User, provider_sub: ProviderSubscription, cause: Cause
) -> Subscription:
    result = await sync_subscription(deps.session, provider_sub, cause)
    customer = await customer_by_stripe_id(deps.session, provider_sub.customer_id)
    await effects.sync_entitlements(deps.session, result.row, customer)
    await sync_entitlements(
        deps.session, user.id, now=deps.clock.now(), grace=grace_period(deps.settings),
        cause_event_type=cause.event_type,
    )  # fmt: skip
    await invalidate_subscription_cache(deps.cache, user.id)
    return result.row


async def _records(session: AsyncSession, subscription: Subscription) -> int:
    count = await session.scalar(
        select(func.count()).where(CancellationRecord.subscription_id == subscription.id)
    )
    return int(count or 0)


async def cancel_at_period_end(
    deps: ManagementDeps,
    user: User,
    *,
    reason: str | None,
    requested_by: str,
    subscription_id: str | None = None,
) -> Subscription:
    """Cancel at the end of the paid period; once (a repeated request returns the same state)."""
    row = await _subscription_to_change(deps.session, user, subscription_id)
    if row.cancel_at_period_end:
        return row
    attempt = await _records(deps.session, row)
    updated = await deps.actions.set_cancel_at_period_end(
        subscription_id=row.stripe_id, cancel=True, idempotency_key=f"cancel:{row.stripe_id}:{attempt}"
    )
    cause = Cause(actor=requested_by, event_type="subscription.cancel_requested")
    row = await _apply(deps, user, updated, cause)
    deps.session.add(
        CancellationRecord(
            subscription_id=row.id, user_id=user.id, requested_by=requested_by, reason=reason,
            at_period_end=True, effective_at=row.current_period_end,
        )
    )  # fmt: skip
    await record(
        deps.session, cause, action="subscription.cancel_requested", subject_type="subscription",
        subject_id=row.stripe_id, customer_id=row.customer_id, user_id=user.id,
        changes={"cancel_at_period_end": [False, True]}, message=reason,
    )  # fmt: skip
    return row


async def resume(
    deps: ManagementDeps, user: User, *, requested_by: str, subscription_id: str | None = None
) -> Subscription:
    """Undo a cancellation at period end (before the period ends)."""
    row = await _subscription_to_change(deps.session, user, subscription_id)
    if not row.cancel_at_period_end:
        return row
    attempt = await _records(deps.session, row)
    updated = await deps.actions.set_cancel_at_period_end(
        subscription_id=row.stripe_id, cancel=False, idempotency_key=f"resume:{row.stripe_id}:{attempt}"
    )
    cause = Cause(actor=requested_by, event_type="subscription.resume_requested")
    row = await _apply(deps, user, updated, cause)
    latest = await deps.session.scalar(
        select(CancellationRecord)
        .where(CancellationRecord.subscription_id == row.id, CancellationRecord.resumed_at.is_(None))
        .order_by(CancellationRecord.created_at.desc())
        .limit(1)
    )
    if latest is not None:
        latest.resumed_at = deps.clock.now()
    await record(
        deps.session, cause, action="subscription.resumed", subject_type="subscription",
        subject_id=row.stripe_id, customer_id=row.customer_id, user_id=user.id,
        changes={"cancel_at_period_end": [True, False]},
    )  # fmt: skip
    return row


async def cancel_now(
    deps: ManagementDeps,
    user: User,
    *,
    reason: str | None,
    requested_by: str,
    subscription_id: str | None = None,
) -> Subscription:
    """End the subscription immediately (operators: ``billhook subscriptions cancel --now``)."""
    row = await _subscription_to_change(deps.session, user, subscription_id)
    updated = await deps.actions.cancel_subscription_now(
        subscription_id=row.stripe_id, idempotency_key=f"cancel-now:{row.stripe_id}"
    )
    cause = Cause(actor=requested_by, event_type="subscription.cancel_now_requested")
    row = await _apply(deps, user, updated, cause)
    deps.session.add(
        CancellationRecord(
            subscription_id=row.id, user_id=user.id, requested_by=requested_by, reason=reason,
            at_period_end=False, effective_at=row.ended_at or deps.clock.now(),
        )
    )  # fmt: skip
    await record(
        deps.session, cause, action="subscription.canceled_now", subject_type="subscription",
        subject_id=row.stripe_id, customer_id=row.customer_id, user_id=user.id, message=reason,
    )  # fmt: skip
    return row


@dataclass(frozen=True, slots=True)
class PlanChange:
    subscription: Subscription
    target_product: str
    preview: InvoicePreview | None  # set when only previewed


async def _target_price(session: AsyncSession, row: Subscription, product_id: str) -> Price:
    product = await session.get(Product, product_id)
    if product is None or not product.active or product.type != "subscription":
        raise InvalidInput(
            f"product_id: {product_id!r} is not an active subscription plan", field="product_id"
        )
    if product.id == row.product_id:
        raise Conflict(f"you are already on {product.name}")
    current = await session.scalar(select(Price).where(Price.stripe_id == row.price_stripe_id))
    currency = current.currency if current else None
    prices = await session.scalars(
        select(Price).where(Price.product_id == product.id, Price.active.is_(True))
    )
    for price in prices:
        if price.stripe_id and (currency is None or price.currency == currency):
            return price
    raise InvalidInput(
        f"product_id: {product.name} is not sold in {currency or 'this currency'}", field="product_id"
    )


async def change_plan(
    deps: ManagementDeps,
    user: User,
    *,
    product_id: str,
    preview: bool,
    requested_by: str,
    subscription_id: str | None = None,
) -> PlanChange:
    row = (  # a preview changes nothing: no need to hold the mirror
        await subscription_of(deps.session, user, subscription_id)
        if preview
        else await _subscription_to_change(deps.session, user, subscription_id)
    )
    price = await _target_price(deps.session, row, product_id)
    assert price.stripe_id is not None
    current = await deps.provider.get_subscription(row.stripe_id)
    item = current.first_item
    if item is None:
        raise Conflict("this subscription has no item to change")
    if preview:
        shown = await deps.actions.preview_plan_change(
            subscription_id=row.stripe_id,
            item_id=item.id,
            price_id=price.stripe_id,
            proration_behavior=PRORATION,
        )
        return PlanChange(row, product_id, shown)
    updated = await deps.actions.change_plan(
        subscription_id=row.stripe_id,
        item_id=item.id,
        price_id=price.stripe_id,
        proration_behavior=PRORATION,
        idempotency_key=f"change-plan:{row.stripe_id}:{item.price_id}:{price.stripe_id}",
    )
    cause = Cause(actor=requested_by, event_type="subscription.plan_change_requested")
    before = row.product_id
    row = await _apply(deps, user, updated, cause)
    await record(
        deps.session, cause, action="subscription.plan_changed", subject_type="subscription",
        subject_id=row.stripe_id, customer_id=row.customer_id, user_id=user.id,
        changes={"product_id": [before, product_id]},
    )  # fmt: skip
    return PlanChange(row, product_id, None)


async def retry_payment(
    deps: ManagementDeps, user: User, *, subscription_id: str | None = None
) -> Subscription:
    """Pay the subscription's open invoice now with the saved card."""
    row = await _subscription_to_change(deps.session, user, subscription_id)
    current = await deps.provider.get_subscription(row.stripe_id)
    invoice = (
        await deps.provider.get_invoice(current.latest_invoice_id) if current.latest_invoice_id else None
    )
    if invoice is None or invoice.status != "open":
        raise Conflict("there is no unpaid invoice to pay")
    await deps.actions.pay_invoice(
        invoice_id=invoice.id, idempotency_key=f"retry:{invoice.id}:{invoice.attempt_count}"
    )
    cause = Cause(actor=f"user:{user.id}", event_type="invoice.retry_requested")
    return await _apply(deps, user, await deps.provider.get_subscription(row.stripe_id), cause)


async def portal_url(deps: ManagementDeps, user: User, *, return_url: str) -> str:
    customer = await customer_of_user(deps.session, user.id)
    if customer is None:
        raise NotFound("you have no billing account yet: subscribe or buy something first")
    minute = int(deps.clock.now().timestamp() // 60)  # a retry within the minute gets the same session
    return await deps.actions.create_portal_session(
        customer_id=customer.stripe_id,
        return_url=return_url,
        idempotency_key=f"portal:{customer.stripe_id}:{minute}",
    )


def plan_change_body(change: PlanChange) -> dict[str, Any]:
    if change.preview is None:
        return {"applied": True, "product_id": change.target_product, "status": change.subscription.status}
    return {
        "applied": False,
        "product_id": change.target_product,
        "amount_due": change.preview.amount_due,
        "currency": change.preview.currency,
        "lines": [
            {"description": line.description, "amount": line.amount, "proration": line.proration}
            for line in change.preview.lines
        ],
    }


# -- GET /api/subscription: the overview, cached per user ------------------------------------------

CACHE_TTL_SECONDS = 300
REFRESH_AFTER_SECONDS = 120


async def _card(deps: ManagementDeps, row: Subscription) -> dict[str, str | None] | None:
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


async def _upcoming(deps: ManagementDeps, row: Subscription) -> dict[str, Any] | None:
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


async def subscription_overview(deps: ManagementDeps, user: User) -> dict[str, Any]:
    """Plan, status, period end, cancel flag, trial end, card, upcoming invoice (JSON-ready)."""
    rows = await live_subscriptions(deps.session, user.id)
    if not rows:
        return {"has_subscription": False}
    row = rows[0]
    product = await deps.session.get(Product, row.product_id) if row.product_id else None
    return {
        "has_subscription": True,
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


async def cached_overview(deps: ManagementDeps, user: User) -> CachedOverview:
    """The cached overview (five minutes), computed and stored when absent."""
    now = deps.clock.now()
    entry = await deps.cache.get(CACHE_NAMESPACE, user.id)
    if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
        return CachedOverview(entry["data"], now.timestamp() - float(entry.get("stored_at", 0)))
    data = await subscription_overview(deps, user)
    await store_overview(deps.cache, user.id, data, now)
    return CachedOverview(data, 0.0)

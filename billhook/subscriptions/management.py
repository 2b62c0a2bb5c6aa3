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
from billhook.catalog.kinds import ItemKind
from billhook.config import Settings
from billhook.customers.repository import customer_of_user
from billhook.customers.service import customer_by_stripe_id
from billhook.db.locks import hold_mirror_of
from billhook.entitlements import sync_entitlements
from billhook.entitlements.service import grace_period
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.kit.clock import Clock
from billhook.models import CancellationRecord, Customer, Price, Product, Subscription, User
from billhook.models.object_versions import record_applied
from billhook.outbox import effects
from billhook.providers.actions import InvoicePreview, ProrationBehavior, ProviderActions
from billhook.providers.base import PaymentProvider, ProviderSubscription
from billhook.subscriptions.overview import invalidate_subscription_cache
from billhook.subscriptions.repository import live_subscriptions
from billhook.subscriptions.service import sync_subscription

PRORATION: ProrationBehavior = "always_invoice"  # the prorated difference is invoiced and charged at once


@dataclass
class ManagementDeps:
    session: AsyncSession
    actions: ProviderActions
    provider: PaymentProvider
    settings: Settings
    clock: Clock
    cache: BillhookCache


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
    await record_applied(deps.session, ("subscription", provider_sub.id))  # no older snapshot wins
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
    trial_end: datetime | None = None  # set while a trial goes on after the change (nothing charged)


async def _refuse_domain(session: AsyncSession, row: Subscription, subscription_id: str | None) -> None:
    """A domain subscription renews one domain's registration: it has no plan to change.

    Without a ``subscription_id`` the action takes the plan, else the newest domain subscription
    (:func:`~billhook.subscriptions.repository.live_with_products`), so a user with domains only
    would switch a domain into a plan: 409, as for the other states a change cannot start from.
    """
    product = await session.get(Product, row.product_id) if row.product_id else None
    if product is None or product.fulfilment != ItemKind.DOMAIN:
        return
    if subscription_id is None:
        raise Conflict(
            "you have no plan subscription to change; buy a plan instead (POST /api/payments/checkout)"
        )
    raise Conflict(
        f"subscription {subscription_id} renews a domain registration and cannot change plan",
        subscription_id=subscription_id,
    )


async def _target_price(session: AsyncSession, row: Subscription, product_id: str) -> Price:
    product = await session.get(Product, product_id)
    if product is None or not product.active or product.type != "subscription":
        raise InvalidInput(
            f"product_id: {product_id!r} is not an active subscription plan", field="product_id"
        )
    if product.fulfilment == ItemKind.DOMAIN:
        raise InvalidInput(
            f"product_id: {product.name} registers a domain and is bought at checkout, not a plan",
            field="product_id",
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
    end_trial: bool = False,
) -> PlanChange:
    """Move the subscription to ``product_id``'s price in its currency.

    As at Stripe, a trialing subscription keeps its trial and is charged nothing now (the new
    price is billed when the trial ends) unless ``end_trial``: then the trial ends now and the
    new price is charged at once. Otherwise the prorated difference is invoiced and charged.
    """
    row = (  # a preview changes nothing: no need to hold the mirror
        await subscription_of(deps.session, user, subscription_id)
        if preview
        else await _subscription_to_change(deps.session, user, subscription_id)
    )
    await _refuse_domain(deps.session, row, subscription_id)
    price = await _target_price(deps.session, row, product_id)
    assert price.stripe_id is not None
    current = await deps.provider.get_subscription(row.stripe_id)
    item = current.first_item
    if item is None:
        raise Conflict("this subscription has no item to change")
    end_trial = end_trial and current.status == "trialing"
    trial_goes_on = current.trial_end if current.status == "trialing" and not end_trial else None
    if preview:
        shown = await deps.actions.preview_plan_change(
            subscription_id=row.stripe_id,
            item_id=item.id,
            price_id=price.stripe_id,
            proration_behavior=PRORATION,
            end_trial=end_trial,
        )
        return PlanChange(row, product_id, shown, trial_goes_on)
    ending = ":end-trial" if end_trial else ""
    updated = await deps.actions.change_plan(
        subscription_id=row.stripe_id,
        item_id=item.id,
        price_id=price.stripe_id,
        proration_behavior=PRORATION,
        idempotency_key=f"change-plan:{row.stripe_id}:{item.price_id}:{price.stripe_id}{ending}",
        end_trial=end_trial,
    )
    cause = Cause(actor=requested_by, event_type="subscription.plan_change_requested")
    before = row.product_id
    row = await _apply(deps, user, updated, cause)
    await record(
        deps.session, cause, action="subscription.plan_changed", subject_type="subscription",
        subject_id=row.stripe_id, customer_id=row.customer_id, user_id=user.id,
        changes={"product_id": [before, product_id]},
    )  # fmt: skip
    return PlanChange(row, product_id, None, trial_goes_on)


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
    trial = {
        "trial_continues": change.trial_end is not None,
        "trial_end": change.trial_end.isoformat() if change.trial_end else None,
    }
    if change.preview is None:
        return {
            "applied": True,
            "product_id": change.target_product,
            "status": change.subscription.status,
            **trial,
        }
    return {
        "applied": False,
        "product_id": change.target_product,
        **trial,
        "amount_due": change.preview.amount_due,
        "currency": change.preview.currency,
        "lines": [
            {"description": line.description, "amount": line.amount, "proration": line.proration}
            for line in change.preview.lines
        ],
    }

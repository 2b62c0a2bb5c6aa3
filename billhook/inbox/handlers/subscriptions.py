"""``customer.subscription.*``: re-fetch, mirror, and request entitlement syncs and emails."""

from __future__ import annotations

from sqlalchemy import select

from billhook.customers.service import customer_by_stripe_id
from billhook.inbox.handlers.base import HandlerContext
from billhook.models import Price, Product
from billhook.outbox import effects
from billhook.providers.base import ProviderSubscription
from billhook.subscriptions.service import ACCESS_COLUMNS, sync_subscription

TRIAL_WILL_END = "customer.subscription.trial_will_end"
TRIAL_ENDING = "trial_ending"


async def subscription_changed(ctx: HandlerContext) -> None:
    """created / updated / deleted / trial_will_end: all apply the provider's current object."""
    subscription = await ctx.provider.get_subscription(ctx.object_id)
    result = await sync_subscription(ctx.session, subscription, ctx.cause)  # marks the views stale
    if ctx.event.type == TRIAL_WILL_END and subscription.status == "trialing" and subscription.trial_end:
        await _trial_ending_reminder(ctx, subscription)
    if not (result.created or ACCESS_COLUMNS & result.changes.keys()):
        return
    customer = await customer_by_stripe_id(ctx.session, subscription.customer_id)
    await effects.sync_entitlements(ctx.session, result.row, customer)
    became_canceled = result.created or "status" in result.changes
    if became_canceled and subscription.status == "canceled":
        await effects.send_email(
            ctx.session,
            effects.SUBSCRIPTION_CANCELED,
            await ctx.customer_email(subscription.customer_id),
            subscription.id,
            {"subscription_id": subscription.id, "ended_at": _iso(subscription.ended_at)},
        )


async def _trial_ending_reminder(ctx: HandlerContext, subscription: ProviderSubscription) -> None:
    """Stripe sends ``trial_will_end`` three days before the trial ends (or at once for a shorter
    trial), https://docs.stripe.com/billing/subscriptions/trials#trial-will-end: one reminder per
    subscription and trial end, saying what will be charged."""
    assert subscription.trial_end is not None
    item = subscription.first_item
    product = await ctx.session.get(Product, item.product_id) if item and item.product_id else None
    price = await ctx.session.scalar(select(Price).where(Price.stripe_id == item.price_id)) if item else None
    context = {
        "trial_end": subscription.trial_end.isoformat(),
        "plan_name": product.name if product else None,
        "amount": price.unit_amount * item.quantity if price and item else None,
        "currency": price.currency if price else None,
    }
    await effects.send_email(
        ctx.session,
        TRIAL_ENDING,
        await ctx.customer_email(subscription.customer_id),
        f"{subscription.id}:{int(subscription.trial_end.timestamp())}",
        context,
    )


def _iso(value: object) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None

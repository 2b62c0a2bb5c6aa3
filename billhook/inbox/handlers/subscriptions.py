"""``customer.subscription.*``: re-fetch, mirror, and request entitlement syncs and emails."""

from __future__ import annotations

from billhook.customers.service import customer_by_stripe_id
from billhook.inbox.handlers.base import HandlerContext
from billhook.outbox import effects
from billhook.subscriptions.service import ACCESS_COLUMNS, sync_subscription


async def subscription_changed(ctx: HandlerContext) -> None:
    """created / updated / deleted / trial_will_end: all apply the provider's current object."""
    subscription = await ctx.provider.get_subscription(ctx.object_id)
    result = await sync_subscription(ctx.session, subscription, ctx.cause)  # marks the views stale
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


def _iso(value: object) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None

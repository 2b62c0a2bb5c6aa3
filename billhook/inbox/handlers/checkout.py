"""``checkout.session.completed / async_payment_succeeded / async_payment_failed / expired``."""

from __future__ import annotations

from billhook.inbox.handlers.base import HandlerContext
from billhook.payments.checkout_sync import apply_checkout_session


async def checkout_session_changed(ctx: HandlerContext) -> None:
    """Re-fetch the session and apply it through the one checkout-sync service."""
    checkout = await ctx.provider.get_checkout_session(ctx.object_id)
    await apply_checkout_session(ctx.session, ctx.provider, checkout, ctx.cause, now=ctx.now)

"""``checkout.session.completed / async_payment_succeeded / async_payment_failed / expired``."""

from __future__ import annotations

from billhook.bookings.checkout import attach_checkout_payment
from billhook.customers.service import customer_by_stripe_id, link_user, sync_customer
from billhook.inbox.handlers.base import HandlerContext
from billhook.outbox import effects
from billhook.payments import service as payments
from billhook.payments.checkout_sessions import sync_checkout_session
from billhook.subscriptions.service import ACCESS_COLUMNS, sync_subscription


async def checkout_session_changed(ctx: HandlerContext) -> None:
    checkout = await ctx.provider.get_checkout_session(ctx.object_id)
    if checkout.customer_id:
        synced = await sync_customer(
            ctx.session, await ctx.provider.get_customer(checkout.customer_id), ctx.cause
        )
        await link_user(ctx.session, synced.row, checkout.client_reference_id, ctx.cause)
        if synced.row.user_id is None and checkout.status == "complete":
            # A checkout by an email with no account: create it (once) in a job.
            await effects.provision_customer(
                ctx.session, synced.row, checkout.customer_email, ctx.cause.event_id
            )
    if checkout.subscription_id:
        subscription = await ctx.provider.get_subscription(checkout.subscription_id)
        result = await sync_subscription(ctx.session, subscription, ctx.cause)
        if result.created or ACCESS_COLUMNS & result.changes.keys() or "user_id" in result.changes:
            customer = await customer_by_stripe_id(ctx.session, subscription.customer_id)
            await effects.sync_entitlements(ctx.session, result.row, customer)
    if checkout.payment_intent_id:
        # A booking checkout wrote a PENDING payment before Stripe made the intent: adopt it.
        await attach_checkout_payment(ctx.session, checkout.id, checkout.payment_intent_id)
        intent = await ctx.provider.get_payment_intent(checkout.payment_intent_id)
        charge = await ctx.provider.get_charge(intent.latest_charge_id) if intent.latest_charge_id else None
        await payments.sync_payment(ctx.session, intent, charge, ctx.cause)
    await sync_checkout_session(ctx.session, checkout, ctx.cause, now=ctx.now)
    if checkout.mode == "payment" and checkout.payment_status == "paid":
        await effects.record_checkout_paid(ctx.session, checkout)

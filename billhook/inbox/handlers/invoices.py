"""``invoice.*``: mirror the invoice (and its subscription), record paid invoices as orders."""

from __future__ import annotations

from billhook.customers.service import customer_by_stripe_id
from billhook.inbox.handlers.base import HandlerContext
from billhook.invoices.service import sync_invoice
from billhook.outbox import effects
from billhook.payments import service as payments
from billhook.subscriptions.service import ACCESS_COLUMNS, sync_subscription


async def invoice_changed(ctx: HandlerContext) -> None:
    """Every invoice event: the order is recorded whenever the provider says "paid", so a
    dropped ``invoice.paid`` is healed by any later event of that invoice, and only once."""
    invoice = await ctx.provider.get_invoice(ctx.object_id)
    if invoice.subscription_id:
        subscription = await ctx.provider.get_subscription(invoice.subscription_id)
        synced = await sync_subscription(ctx.session, subscription, ctx.cause)
        if synced.created or ACCESS_COLUMNS & synced.changes.keys():
            customer = await customer_by_stripe_id(ctx.session, subscription.customer_id)
            await effects.sync_entitlements(ctx.session, synced.row, customer)
    await sync_invoice(ctx.session, invoice, ctx.cause)
    if invoice.payment_intent_id:  # link the invoice's payment (Billing creates its intent)
        intent = await ctx.provider.get_payment_intent(invoice.payment_intent_id)
        charge = await ctx.provider.get_charge(intent.latest_charge_id) if intent.latest_charge_id else None
        await payments.sync_payment(ctx.session, intent, charge, ctx.cause, invoice_stripe_id=invoice.id)
    if invoice.status == "paid":
        await effects.record_invoice_paid(ctx.session, invoice)

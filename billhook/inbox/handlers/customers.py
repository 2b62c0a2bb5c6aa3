"""``customer.*``, ``customer.source.*``, ``payment_method.*`` and ``setup_intent.*``."""

from __future__ import annotations

from billhook.audit.service import record_once
from billhook.customers import service
from billhook.customers.default_card import request_default_card
from billhook.errors import NotFound
from billhook.inbox.handlers.base import HandlerContext
from billhook.providers.base import ProviderCustomer


async def customer_changed(ctx: HandlerContext) -> None:
    """created / updated / deleted: the provider returns deleted customers as ``deleted``."""
    try:
        customer = await ctx.provider.get_customer(ctx.object_id)
    except NotFound:
        if ctx.event.type != "customer.deleted":
            raise
        customer = ProviderCustomer(id=ctx.object_id, deleted=True)
    await service.sync_customer(ctx.session, customer, ctx.cause)


async def source_changed(ctx: HandlerContext) -> None:
    """A legacy card source expiring or updated: re-sync its customer and the card."""
    customer_id = ctx.event.object_ref("customer")
    if customer_id:
        customer = await ctx.provider.get_customer(customer_id)
        await service.sync_customer(ctx.session, customer, ctx.cause)
    try:
        method = await ctx.provider.get_payment_method(ctx.object_id)
    except NotFound:
        return
    await service.sync_payment_method(ctx.session, method, ctx.cause)


async def payment_method_changed(ctx: HandlerContext) -> None:
    """attached / detached: a detached method comes back without a customer."""
    method = await ctx.provider.get_payment_method(ctx.object_id)
    default_for = None
    if method.customer_id:
        default_for = (await ctx.provider.get_customer(method.customer_id)).default_payment_method_id
    await service.sync_payment_method(ctx.session, method, ctx.cause, default_for=default_for or "")


async def setup_intent_changed(ctx: HandlerContext) -> None:
    """created / succeeded / setup_failed: a succeeded setup saves its payment method."""
    intent = await ctx.provider.get_setup_intent(ctx.object_id)
    if intent.status == "succeeded" and intent.payment_method_id:
        method = await ctx.provider.get_payment_method(intent.payment_method_id)
        await service.sync_payment_method(ctx.session, method, ctx.cause)
        if intent.customer_id:  # a card saved for later is the one to charge from now on
            await request_default_card(ctx.session, intent.customer_id, intent.payment_method_id, intent.id)
    await record_once(
        ctx.session,
        ctx.cause,
        action=f"setup_intent.{intent.status}",
        subject_type="setup_intent",
        subject_id=intent.id,
        message=intent.failure_message,
    )

"""``payment_intent.*``, ``charge.*``, ``refund.*``, ``charge.dispute.created``.

Each re-fetches the intent and its latest charge and moves the payment through the state
machine (``billhook.payments.states``); refunds and disputes are mirrored beside it.
"""

from __future__ import annotations

from billhook.bookings.checkout import attach_intent_payment
from billhook.db.locks import hold_mirror_of
from billhook.inbox.handlers.base import HandlerContext
from billhook.models import Payment, PaymentStatus
from billhook.outbox import effects
from billhook.payments import service
from billhook.payments.actions import alert_admins_of_dispute
from billhook.providers.base import ProviderCharge, ProviderPaymentIntent, ProviderRefund

ORDER_METADATA_KEY = "billhook_order"  # set on intents Billhook creates outside Checkout


async def _sync(
    ctx: HandlerContext, intent: ProviderPaymentIntent | None, charge: ProviderCharge | None
) -> None:
    if intent is not None and intent.metadata.get("payment_id"):
        # A booking's PENDING record, named by the checkout that made this intent.
        await attach_intent_payment(ctx.session, intent.metadata["payment_id"], intent.id)
    result = await service.sync_payment(ctx.session, intent, charge, ctx.cause)  # marks the views stale
    status = PaymentStatus(result.row.status)
    customer_id = (intent.customer_id if intent else None) or (charge.customer_id if charge else None)
    if status is PaymentStatus.FAILED and charge is not None and charge.status == "failed":
        await effects.send_email(
            ctx.session,
            effects.PAYMENT_FAILED,
            await ctx.customer_email(customer_id),
            charge.id,  # one email per failed attempt
            {"amount": charge.amount, "currency": charge.currency, "reason": charge.failure_message},
        )
    if intent is not None and intent.status == "succeeded" and ORDER_METADATA_KEY in intent.metadata:
        await effects.record_intent_paid(ctx.session, intent)
    if charge is not None:
        for refund in charge.refunds:
            await _record_refund(ctx, refund, customer_id, charge)


async def _record_refund(
    ctx: HandlerContext, refund: ProviderRefund, customer_id: str | None, charge: ProviderCharge | None
) -> None:
    await service.sync_refund(ctx.session, refund, ctx.cause)
    if refund.status == "succeeded" and charge is not None:
        await effects.record_refund(ctx.session, refund, charge)
    if refund.status in {"succeeded", "pending"}:
        await effects.send_email(
            ctx.session,
            effects.REFUND_ISSUED,
            await ctx.customer_email(customer_id),
            refund.id,
            {"amount": refund.amount, "currency": refund.currency},
        )


async def _from_charge(ctx: HandlerContext, charge_id: str) -> ProviderCharge:
    charge = await ctx.provider.get_charge(charge_id)
    if charge.customer_id and charge.customer_id != ctx.event.object_ref("customer"):
        # Refunds and disputes name no customer, so their events are keyed by their own id and
        # may run beside the customer's other events. Taking the customer's mirror lock before
        # writing anything puts them in line after those (the same lock order as the customer's
        # own groups), instead of locking the customer's rows in another order: no deadlock.
        # An event naming the charge's customer (``charge.*``) is keyed by that customer, whose
        # lock the worker already holds for the group.
        await hold_mirror_of(ctx.session, charge.customer_id)
    intent = (
        await ctx.provider.get_payment_intent(charge.payment_intent_id) if charge.payment_intent_id else None
    )
    await _sync(ctx, intent, charge)
    return charge


async def payment_intent_changed(ctx: HandlerContext) -> None:
    intent = await ctx.provider.get_payment_intent(ctx.object_id)
    charge = await ctx.provider.get_charge(intent.latest_charge_id) if intent.latest_charge_id else None
    await _sync(ctx, intent, charge)


async def charge_changed(ctx: HandlerContext) -> None:
    """succeeded / failed / refunded (the latter also mirrors each refund)."""
    await _from_charge(ctx, ctx.object_id)


async def refund_changed(ctx: HandlerContext) -> None:
    refund = await ctx.provider.get_refund(ctx.object_id)
    charge = await _from_charge(ctx, refund.charge_id) if refund.charge_id else None
    await _record_refund(ctx, refund, charge.customer_id if charge else None, charge)


async def dispute_created(ctx: HandlerContext) -> None:
    dispute = await ctx.provider.get_dispute(ctx.object_id)
    if dispute.charge_id:
        await _from_charge(ctx, dispute.charge_id)
    result = await service.sync_dispute(ctx.session, dispute, ctx.cause)
    if result.created:
        payment = await ctx.session.get(Payment, result.row.payment_id) if result.row.payment_id else None
        await alert_admins_of_dispute(ctx.session, result.row, payment, alert_email=ctx.alert_email)

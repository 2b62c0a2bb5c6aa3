"""The ``order.record_paid`` and ``order.record_refunded`` jobs: the inbox's money facts → orders.

The inbox enqueues it (see :mod:`billhook.outbox.effects`) for ``invoice.paid`` and for a paid
one-time ``checkout.session.completed``; this job resolves the customer, the user and the catalog
product, then calls :func:`record_paid_order`, which is idempotent and dispatches fulfilment.

Subscription money is recorded from invoices only (``subscription_create`` → a ``new`` order,
``subscription_cycle`` → ``subscription_renewal``), and one-time money from checkout sessions
only; a bare ``payment_intent`` source is left alone, because every such intent Billhook creates
belongs to one of those two and would otherwise be counted twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.logging import get_logger
from billhook.models import (
    CheckoutSession,
    Customer,
    Invoice,
    Order,
    OrderType,
    Payment,
    Price,
    Product,
    Subscription,
)
from billhook.orders import repository
from billhook.orders.receipts import queue_receipt
from billhook.orders.schemas import ItemKind, OrderItemInput
from billhook.orders.service import record_order_refunded, record_paid_order
from billhook.outbox import JobContext, JobRegistry, PermanentJobError
from billhook.outbox.contracts import RECORD_PAID, RECORD_REFUNDED, SYNC_ENTITLEMENTS, SyncEntitlements

log = get_logger(__name__)


async def _customer(session: AsyncSession, stripe_id: str | None) -> Customer | None:
    if not stripe_id:
        return None
    return await session.scalar(select(Customer).where(Customer.stripe_id == stripe_id))


async def _product_for_price(session: AsyncSession, price_stripe_id: str | None) -> Product | None:
    if not price_stripe_id:
        return None
    statement = select(Product).join(Price, Price.product_id == Product.id)
    return await session.scalar(statement.where(Price.stripe_id == price_stripe_id))


def _kind(product: Product | None, default: str) -> str:
    return product.fulfilment if product is not None else default


def _item_details(kind: str, metadata: dict[str, Any], customer: Customer | None) -> dict[str, Any]:
    """What fulfilment needs from the checkout's metadata: the domain (and its contact) or booking."""
    details: dict[str, Any] = {
        key: value for key, value in metadata.items() if key in {"domain", "years", "booking_id"}
    }
    if kind == ItemKind.DOMAIN and customer is not None and customer.email:
        # The registrar needs a registrant contact; the paying customer is the one we know.
        details["contacts"] = {"email": customer.email, "name": customer.name}
    return details


def _invoice_order_type(kind: str, billing_reason: str | None) -> OrderType:
    if billing_reason != "subscription_cycle":
        return OrderType.NEW
    return OrderType.RENEWAL if kind == ItemKind.DOMAIN else OrderType.SUBSCRIPTION_RENEWAL


async def _from_invoice(session: AsyncSession, payload: dict[str, Any]) -> None:
    subscription = await session.scalar(
        select(Subscription).where(Subscription.stripe_id == payload.get("subscription_id"))
    )
    if subscription is None:
        # The mirror applies invoice events after the subscription's; raise so the job retries.
        raise LookupError(f"subscription {payload.get('subscription_id')} is not mirrored yet")
    customer = await _customer(session, payload.get("customer_id"))
    product = await _product_for_price(session, subscription.price_stripe_id)
    kind = _kind(product, ItemKind.PLAN)
    details = _item_details(kind, subscription.raw.get("metadata") or {}, customer)
    if subscription.current_period_end:
        details["period_end"] = subscription.current_period_end.isoformat()
    item = OrderItemInput(
        kind=kind,
        unit_amount=int(payload.get("amount_paid") or 0),
        product_id=product.id if product else subscription.product_id,
        price_stripe_id=subscription.price_stripe_id,
        details=details,
    )
    order = await record_paid_order(
        session,
        order_type=_invoice_order_type(kind, payload.get("billing_reason")),
        user_id=subscription.user_id or (customer.user_id if customer else None),
        customer_id=customer.id if customer else None,
        amount_total=item.unit_amount,
        currency=str(payload["currency"]),
        items=[item],
        invoice_stripe_id=str(payload["invoice_id"]),
        subscription_stripe_id=subscription.stripe_id,
    )
    await queue_receipt(session, order, [item])


async def _line_items(
    session: AsyncSession, payload: dict[str, Any], customer: Customer | None
) -> list[OrderItemInput]:
    metadata: dict[str, Any] = payload.get("metadata") or {}
    items = []
    for line in payload.get("line_items") or []:
        product = await _product_for_price(session, line.get("price_id"))
        quantity = max(int(line.get("quantity") or 1), 1)
        kind = _kind(product, ItemKind.BOOKING if "booking_id" in metadata else ItemKind.CREDITS)
        items.append(
            OrderItemInput(
                kind=kind,
                unit_amount=int(line.get("amount_total") or 0) // quantity,
                quantity=quantity,
                product_id=product.id if product else None,
                price_stripe_id=line.get("price_id"),
                details=_item_details(kind, metadata, customer),
            )
        )
    return items


async def _from_checkout(session: AsyncSession, payload: dict[str, Any]) -> None:
    if not payload.get("payment_intent_id"):
        return  # subscription or setup mode: the invoice records the money
    metadata: dict[str, Any] = payload.get("metadata") or {}
    customer = await _customer(session, payload.get("customer_id"))
    payment = await session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == payload["payment_intent_id"])
    )
    booking_id = metadata.get("booking_id")
    items = await _line_items(session, payload, customer)
    order = await record_paid_order(
        session,
        order_type=OrderType.BOOKING if booking_id else OrderType.NEW,
        user_id=metadata.get("user_id") or (customer.user_id if customer else None),
        customer_id=customer.id if customer else None,
        amount_total=int(payload.get("amount_total") or 0),
        currency=str(payload["currency"]),
        items=items,
        checkout_session_stripe_id=str(payload["checkout_session_id"]),
        payment_id=payment.id if payment else None,
        booking_id=booking_id,
    )
    await queue_receipt(session, order, items)
    if order.user_id:
        # A one-time product grants what the catalog says: let the user's role follow.
        key = f"entitlements:order:{order.id}"
        await SYNC_ENTITLEMENTS.enqueue(session, SyncEntitlements(user_id=order.user_id), key=key)


async def record_paid(ctx: JobContext) -> None:
    source = ctx.payload.get("source")
    if source == "invoice":
        await _from_invoice(ctx.session, ctx.payload)
    elif source == "checkout":
        await _from_checkout(ctx.session, ctx.payload)
    elif source == "payment_intent":
        log.info("order_from_intent_skipped", payment_intent=ctx.payload.get("payment_intent_id"))
    else:
        raise PermanentJobError(f"unknown order source {source!r}")


async def _checkout_for_intent(session: AsyncSession, payment: Payment) -> str | None:
    """The checkout session that created ``payment``'s intent, from the mirror's raw JSON."""
    if payment.checkout_session_stripe_id:
        return payment.checkout_session_stripe_id
    statement = select(CheckoutSession).where(
        CheckoutSession.customer_id == payment.customer_id, CheckoutSession.mode == "payment"
    )
    for checkout in (await session.scalars(statement)).all():
        if checkout.raw.get("payment_intent") == payment.stripe_payment_intent_id:
            return checkout.stripe_id
    return None


async def _order_for_payment(session: AsyncSession, payment: Payment) -> Order | None:
    if payment.order_id:
        return await session.get(Order, payment.order_id)
    invoice = await session.get(Invoice, payment.invoice_id) if payment.invoice_id else None
    return await repository.find(
        session,
        invoice_stripe_id=invoice.stripe_id if invoice else None,
        checkout_session_stripe_id=await _checkout_for_intent(session, payment),
    )


async def record_refunded(ctx: JobContext) -> None:
    """A refund succeeded: move the order on (a full refund of a booking cancels it)."""
    payload = ctx.payload
    payment = await ctx.session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == payload.get("payment_intent_id"))
    )
    if payment is None:
        raise LookupError(f"payment for {payload.get('payment_intent_id')} is not mirrored yet")
    order = await _order_for_payment(ctx.session, payment)
    if order is None:
        log.info("refund_without_order", refund=payload.get("refund_id"), payment=payment.id)
        return
    await record_order_refunded(
        ctx.session,
        refund_id=str(payload["refund_id"]),
        amount_refunded=int(payload["amount_refunded"]),
        order_id=order.id,
        reason=payload.get("reason"),
    )


def register_jobs(registry: JobRegistry) -> None:
    registry.register(RECORD_PAID, record_paid)
    registry.register(RECORD_REFUNDED, record_refunded)

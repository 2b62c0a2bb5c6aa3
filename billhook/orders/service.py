"""Recording what happened to an order's payment. Called by webhook handlers; only flushes.

Idempotency: an order is found again by its invoice, checkout session or payment. A new order
gets an id derived from that source, so two deliveries of the same webhook racing each other
insert one row (the primary key refuses the second) and dispatch once. Callers should pass
the checkout session id whenever there is one, so every event about a one-time purchase
names the same source.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog.kinds import ItemKind
from billhook.errors import InvalidInput, NotFound
from billhook.fulfilment.requests import EventType, publish_event
from billhook.kit.clock import utcnow
from billhook.kit.money import validate_currency
from billhook.models import Booking, BookingStatus, Order, OrderItem, OrderType
from billhook.models.orders import OrderStatus
from billhook.orders import repository
from billhook.orders.dispatch import OrderJobDispatcher
from billhook.orders.schemas import OrderItemInput

_UNPAID = (OrderStatus.PENDING, OrderStatus.PAYMENT_FAILED)


def _stable_id(prefix: str, source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"{prefix}_{base64.b32encode(digest).decode()[:26]}"


def _source(invoice: str | None, checkout: str | None, payment: str | None) -> str:
    if invoice:
        return f"invoice:{invoice}"
    if checkout:
        return f"checkout:{checkout}"
    if payment:
        return f"payment:{payment}"
    raise InvalidInput("a paid order needs invoice_stripe_id, checkout_session_stripe_id or payment_id")


def _validate(order_type: str, amount_total: int, currency: str, items: Sequence[OrderItemInput]) -> str:
    if order_type not in {kind.value for kind in OrderType}:
        raise InvalidInput(f"unknown order type {order_type!r}")
    if amount_total < 0:
        raise InvalidInput("amount_total must not be negative")
    if not items:
        raise InvalidInput("a paid order needs at least one item")
    problems = [problem for item in items for problem in item.problems()]
    if problems:
        raise InvalidInput("; ".join(problems))
    try:
        return validate_currency(currency)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _item_rows(
    order_id: str, currency: str, items: Sequence[OrderItemInput], booking_id: str | None
) -> list[OrderItem]:
    rows = []
    for index, item in enumerate(items):
        details = dict(item.details)
        if item.kind == ItemKind.BOOKING and booking_id and "booking_id" not in details:
            details["booking_id"] = booking_id
        rows.append(
            OrderItem(
                id=_stable_id("oi", f"{order_id}:{index}"), order_id=order_id, kind=item.kind,
                product_id=item.product_id, price_stripe_id=item.price_stripe_id, quantity=item.quantity,
                unit_amount=item.unit_amount, currency=currency, details=details,
            )
        )  # fmt: skip
    return rows


async def record_paid_order(
    session: AsyncSession,
    *,
    order_type: str,
    user_id: str | None,
    customer_id: str | None,
    amount_total: int,
    currency: str,
    items: Sequence[OrderItemInput],
    checkout_session_stripe_id: str | None = None,
    invoice_stripe_id: str | None = None,
    subscription_stripe_id: str | None = None,
    payment_id: str | None = None,
    booking_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    paid_at: datetime | None = None,
    dispatcher: OrderJobDispatcher | None = None,
) -> Order:
    """Record a paid order and enqueue its fulfilment, once per invoice/checkout/payment.

    An order that already exists unpaid (created at checkout) is marked paid and dispatched;
    one already paid is returned as it is.
    """
    currency = _validate(order_type, amount_total, currency, items)
    if order_type == OrderType.BOOKING and not booking_id:
        raise InvalidInput("a booking order needs booking_id")
    source = _source(invoice_stripe_id, checkout_session_stripe_id, payment_id)
    paid_at = paid_at or utcnow()
    extra = {**(metadata or {}), **({"payment_id": payment_id} if payment_id else {}),
             **({"booking_id": booking_id} if booking_id else {})}  # fmt: skip
    lookup = {"invoice_stripe_id": invoice_stripe_id, "payment_id": payment_id,
              "checkout_session_stripe_id": checkout_session_stripe_id}  # fmt: skip
    existing = await repository.find(session, **lookup)
    if existing is None:
        values = {
            "id": _stable_id("ord", source), "user_id": user_id, "customer_id": customer_id,
            "type": order_type, "status": OrderStatus.PAID, "amount_total": amount_total,
            "currency": currency, "checkout_session_stripe_id": checkout_session_stripe_id,
            "invoice_stripe_id": invoice_stripe_id, "subscription_stripe_id": subscription_stripe_id,
            "paid_at": paid_at, "metadata": extra, "created_at": paid_at, "updated_at": paid_at,
        }  # fmt: skip
        if await repository.insert_order(session, values):
            order = await session.get_one(Order, values["id"], populate_existing=True)
            await repository.add_items(session, _item_rows(order.id, currency, items, booking_id))
        else:
            # A concurrent delivery created it between our lookup and our insert.
            existing = await repository.find(session, **lookup)
            if existing is None:
                raise RuntimeError(f"order for {source} conflicted but cannot be found")
    if existing is not None:
        paid = await _pay_existing(
            session, existing, currency=currency, items=items,
            booking_id=booking_id, extra=extra, paid_at=paid_at,
        )  # fmt: skip
        if paid is None:
            return existing
        order = paid
    if payment_id:
        await repository.link_payment(session, payment_id, order.id)
    await (dispatcher or OrderJobDispatcher()).dispatch(
        session, order, await repository.items(session, order.id)
    )
    return order


async def _pay_existing(
    session: AsyncSession,
    order: Order,
    *,
    currency: str,
    items: Sequence[OrderItemInput],
    booking_id: str | None,
    extra: Mapping[str, Any],
    paid_at: datetime,
) -> Order | None:
    """Mark an unpaid order paid; None when it was paid already (nothing to dispatch)."""
    values = {"status": OrderStatus.PAID, "paid_at": paid_at, "updated_at": paid_at,
              "metadata_": {**(order.metadata_ or {}), **extra}}  # fmt: skip
    if not await repository.transition(session, order.id, allowed_from=_UNPAID, values=values):
        return None
    if not await repository.items(session, order.id):
        await repository.add_items(session, _item_rows(order.id, currency, items, booking_id))
    return await session.get_one(Order, order.id, populate_existing=True)


async def record_order_payment_failed(
    session: AsyncSession,
    *,
    invoice_stripe_id: str | None = None,
    checkout_session_stripe_id: str | None = None,
    payment_id: str | None = None,
    reason: str | None = None,
) -> Order | None:
    """Mark an unpaid order's payment as failed; a paid order stays paid. None if no order."""
    order = await repository.find(
        session, invoice_stripe_id=invoice_stripe_id,
        checkout_session_stripe_id=checkout_session_stripe_id, payment_id=payment_id,
    )  # fmt: skip
    if order is None:
        return None
    now = utcnow()
    values = {"status": OrderStatus.PAYMENT_FAILED, "updated_at": now,
              "metadata_": {**(order.metadata_ or {}), "failure_reason": reason}}  # fmt: skip
    await repository.transition(session, order.id, allowed_from=_UNPAID, values=values)
    return await session.get_one(Order, order.id, populate_existing=True)


async def record_order_refunded(
    session: AsyncSession,
    *,
    refund_id: str,
    amount_refunded: int,
    order_id: str | None = None,
    invoice_stripe_id: str | None = None,
    checkout_session_stripe_id: str | None = None,
    payment_id: str | None = None,
    reason: str | None = None,
) -> Order:
    """Record a refund; ``amount_refunded`` is the running total, as on Stripe's charge.

    A full refund of a booking order cancels the booking. ``payment.refunded`` is published
    once per ``refund_id``.
    """
    order = await repository.get(session, order_id) if order_id else None
    order = order or await repository.find(
        session, invoice_stripe_id=invoice_stripe_id,
        checkout_session_stripe_id=checkout_session_stripe_id, payment_id=payment_id,
    )  # fmt: skip
    if order is None:
        raise NotFound("no order matches this refund")
    if amount_refunded <= 0:
        raise InvalidInput("amount_refunded must be positive")
    full = amount_refunded >= order.amount_total
    status = OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED
    now = utcnow()
    values = {"status": status, "updated_at": now,
              "metadata_": {**(order.metadata_ or {}), "amount_refunded": amount_refunded}}  # fmt: skip
    allowed = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
    await repository.transition(session, order.id, allowed_from=allowed, values=values)
    booking_id = (order.metadata_ or {}).get("booking_id")
    if full and order.type == OrderType.BOOKING and booking_id:
        await _cancel_booking(session, str(booking_id), now)
    data = {"order_id": order.id, "refund_id": refund_id, "amount_refunded": amount_refunded,
            "currency": order.currency, "full": full, "reason": reason}  # fmt: skip
    await publish_event(
        session, EventType.PAYMENT_REFUNDED, data, key=f"{EventType.PAYMENT_REFUNDED}:{refund_id}"
    )
    return await session.get_one(Order, order.id, populate_existing=True)


async def _cancel_booking(session: AsyncSession, booking_id: str, now: datetime) -> None:
    statement = (
        update(Booking)
        .where(Booking.id == booking_id, Booking.status != BookingStatus.CANCELLED)
        .values(status=BookingStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)

"""A receipt for every successful payment: the first charge, each renewal, each one-time purchase.

Requested by the ``order.record_paid`` job once the paid order is recorded, so every payment
Billhook counts as money in gets exactly one receipt (the email key names the order). Free
invoices (a trial's first, 0.00) get none. The receipt says what was paid, for what, the
invoice number and links to the hosted invoice (which offers the PDF) when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.fulfilment.requests import request_email
from billhook.models import Customer, Invoice, Order, Product, User
from billhook.orders.schemas import OrderItemInput

RECEIPT = "payment_receipt"


async def _recipient(session: AsyncSession, order: Order) -> tuple[str | None, str | None]:
    """The address (and name) the receipt goes to: the user's, else the paying customer's."""
    user = await session.get(User, order.user_id) if order.user_id else None
    if user is not None:
        return user.email, user.name
    customer = await session.get(Customer, order.customer_id) if order.customer_id else None
    return (customer.email, customer.name) if customer is not None else (None, None)


async def _item_lines(session: AsyncSession, items: Sequence[OrderItemInput]) -> list[dict[str, Any]]:
    lines = []
    for item in items:
        product = await session.get(Product, item.product_id) if item.product_id else None
        lines.append(
            {
                "description": product.name if product else (item.product_id or "Your purchase"),
                "quantity": item.quantity,
                "amount": item.unit_amount * item.quantity,
            }
        )
    return lines


async def queue_receipt(session: AsyncSession, order: Order, items: Sequence[OrderItemInput]) -> bool:
    """Request the receipt of a paid order once; nothing for a free order or without an address."""
    if order.amount_total <= 0:
        return False
    to, name = await _recipient(session, order)
    if not to:
        return False
    invoice = None
    if order.invoice_stripe_id:
        invoice = await session.scalar(select(Invoice).where(Invoice.stripe_id == order.invoice_stripe_id))
    lines = await _item_lines(session, items)
    context = {
        "name": name,
        "amount": order.amount_total,
        "currency": order.currency,
        "items": lines,
        "description": ", ".join(line["description"] for line in lines) or None,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "receipt_number": invoice.number if invoice is not None else None,
        "invoice_url": invoice.hosted_invoice_url if invoice is not None else None,
    }
    return await request_email(
        session, template=RECEIPT, to=to, context=context, cause_id=f"order:{order.id}"
    )

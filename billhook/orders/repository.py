"""Queries on orders and their items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.upsert import insert_ignore
from billhook.models import Order, OrderItem, Payment


async def get(session: AsyncSession, order_id: str) -> Order | None:
    return await session.get(Order, order_id)


async def items(session: AsyncSession, order_id: str) -> Sequence[OrderItem]:
    statement = select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.id)
    return (await session.execute(statement)).scalars().all()


async def find(
    session: AsyncSession,
    *,
    invoice_stripe_id: str | None = None,
    checkout_session_stripe_id: str | None = None,
    payment_id: str | None = None,
) -> Order | None:
    """The order for an invoice, a checkout session or a payment, in that order of preference."""
    if invoice_stripe_id:
        found = await _first(session, Order.invoice_stripe_id == invoice_stripe_id)
        if found:
            return found
    if checkout_session_stripe_id:
        found = await _first(session, Order.checkout_session_stripe_id == checkout_session_stripe_id)
        if found:
            return found
    if payment_id:
        payment = await session.get(Payment, payment_id)
        if payment is not None and payment.order_id:
            return await session.get(Order, payment.order_id)
    return None


async def _first(session: AsyncSession, condition: Any) -> Order | None:
    statement = select(Order).where(condition).order_by(Order.created_at).limit(1)
    return (await session.execute(statement)).scalars().first()


async def insert_order(session: AsyncSession, values: Mapping[str, Any]) -> bool:
    """Insert unless an order with this id or invoice exists; True when this call created it."""
    table: Table = Order.__table__  # type: ignore[assignment]
    return await insert_ignore(session, table, values, None)


async def add_items(session: AsyncSession, rows: Sequence[OrderItem]) -> None:
    session.add_all(rows)
    await session.flush()


async def transition(
    session: AsyncSession, order_id: str, *, allowed_from: Sequence[str], values: Mapping[str, Any]
) -> bool:
    """Move an order on only from one of ``allowed_from``: two racing webhooks, one winner."""
    statement = (
        update(Order)
        .where(Order.id == order_id, Order.status.in_(list(allowed_from)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def link_payment(session: AsyncSession, payment_id: str, order_id: str) -> None:
    statement = (
        update(Payment)
        .where(Payment.id == payment_id, Payment.order_id.is_(None))
        .values(order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(statement)

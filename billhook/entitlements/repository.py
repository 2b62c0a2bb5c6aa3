"""What entitlements read: the user's subscriptions and paid one-time orders, grants, past audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.entitlements.rules import PlanGrant, PurchaseFacts, SubscriptionFacts
from billhook.models import AuditEntry, Customer, Invoice, Order, OrderItem, Price, Product, Subscription

# Orders whose money was taken (and not given back): these grant one-time products.
PAID_ORDER_STATUSES = ("paid", "fulfilled", "completed")
AUDIT_ACTIONS = (
    "entitlements.role_granted",
    "entitlements.role_revoked",
    "entitlements.granted",
    "entitlements.revoked",
)


async def grant_table(session: AsyncSession) -> dict[str, PlanGrant]:
    """Every product, active or not: an existing subscriber keeps a retired plan's grants."""
    grants: dict[str, PlanGrant] = {}
    for product in (await session.scalars(select(Product))).all():
        data = product.grants or {}
        grants[product.id] = PlanGrant(
            product_id=product.id,
            role=data.get("role"),
            entitlements=tuple(data.get("entitlements", ())),
            rank=int(data.get("rank", 0)),
            one_time=product.type == "one_time",
        )
    return grants


async def customer_ids(session: AsyncSession, user_id: str) -> list[str]:
    return list((await session.scalars(select(Customer.id).where(Customer.user_id == user_id))).all())


async def user_for_customer(session: AsyncSession, customer_id: str) -> str | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        customer = await session.scalar(select(Customer).where(Customer.stripe_id == customer_id))
    return customer.user_id if customer else None


async def subscriptions(
    session: AsyncSession, user_id: str, customers: Sequence[str]
) -> list[SubscriptionFacts]:
    owner = or_(Subscription.user_id == user_id, Subscription.customer_id.in_(customers))
    rows = (await session.scalars(select(Subscription).where(owner))).all()
    return [
        SubscriptionFacts(
            id=row.stripe_id,
            product_id=row.product_id or await _product_of_price(session, row.price_stripe_id),
            status=row.status,
            past_due_since=await _past_due_since(session, row) if row.status == "past_due" else None,
        )
        for row in rows
    ]


async def _product_of_price(session: AsyncSession, price_stripe_id: str | None) -> str | None:
    if price_stripe_id is None:
        return None
    return await session.scalar(select(Price.product_id).where(Price.stripe_id == price_stripe_id))


async def _past_due_since(session: AsyncSession, row: Subscription) -> datetime:
    """The start of the period the failed renewal bills; else the open invoice's period end; else
    the moment the mirror row last changed."""
    if row.current_period_start is not None:
        return row.current_period_start
    statement = (
        select(Invoice.period_end)
        .where(Invoice.subscription_id == row.id, Invoice.status == "open", Invoice.period_end.is_not(None))
        .order_by(Invoice.period_end.desc())
        .limit(1)
    )
    period_end = await session.scalar(statement)
    return period_end or row.updated_at


async def purchases(session: AsyncSession, user_id: str, customers: Sequence[str]) -> list[PurchaseFacts]:
    owner = or_(Order.user_id == user_id, Order.customer_id.in_(customers))
    statement = (
        select(Order.id, OrderItem.product_id)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .where(owner, Order.status.in_(PAID_ORDER_STATUSES), OrderItem.product_id.is_not(None))
        .order_by(Order.created_at)
    )
    rows = (await session.execute(statement)).all()
    return [PurchaseFacts(order_id=order_id, product_id=str(product_id)) for order_id, product_id in rows]


async def last_recorded_entitlements(session: AsyncSession, user_id: str) -> tuple[str, ...]:
    """The entitlement set written by the latest sync that changed something (every such audit
    entry carries the full set after the change)."""
    statement = (
        select(AuditEntry.changes)
        .where(AuditEntry.user_id == user_id, AuditEntry.action.in_(AUDIT_ACTIONS))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    changes = await session.scalar(statement)
    return tuple((changes or {}).get("entitlements_after", ()))

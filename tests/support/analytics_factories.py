"""Subscriptions, payments and checkout sessions for analytics tests, built through the services.

Subscriptions go through :func:`billhook.subscriptions.service.sync_subscription` (which writes the
MRR ledger), so the figures are tested on rows made the way the inbox makes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause
from billhook.models import (
    CheckoutSession,
    InboxEvent,
    Invoice,
    MrrMovement,
    Payment,
    PaymentStatus,
    Subscription,
)
from billhook.providers.base import ProviderDiscount, ProviderSubscription, ProviderSubscriptionItem
from billhook.subscriptions.service import sync_subscription

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """``T0`` plus ``n`` days."""
    return T0 + timedelta(days=n)


def subscription(
    sub_id: str,
    customer: str,
    status: str = "active",
    *,
    amount: int = 1000,
    interval: str = "month",
    interval_count: int = 1,
    quantity: int = 1,
    currency: str = "usd",
    plan: str = "basic",
    start: datetime = T0,
    trial_days: int | None = None,
    ended_at: datetime | None = None,
    cancel_at_period_end: bool = False,
    discounts: Iterable[ProviderDiscount] = (),
) -> ProviderSubscription:
    """A provider subscription in Stripe's shape, with one item."""
    trial_end = start + timedelta(days=trial_days) if trial_days is not None else None
    item = ProviderSubscriptionItem(
        id=f"si_{sub_id}",
        price_id=f"price_{plan}_{interval}",
        product_id=f"prod_{plan}",
        quantity=quantity,
        unit_amount=amount,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        current_period_start=trial_end or start,
        current_period_end=(trial_end or start) + timedelta(days=30),
    )
    return ProviderSubscription(
        id=sub_id,
        customer_id=customer,
        status=status,
        items=(item,),
        cancel_at_period_end=cancel_at_period_end,
        ended_at=ended_at,
        canceled_at=ended_at,
        trial_start=start if trial_end else None,
        trial_end=trial_end,
        created=start,
        start_date=start,
        discounts=tuple(discounts),
    )


def changed(sub: ProviderSubscription, **item_changes: object) -> ProviderSubscription:
    """The same subscription with its item changed (price, amount, quantity...)."""
    return replace(sub, items=(replace(sub.items[0], **item_changes),))  # type: ignore[arg-type]


async def event(session: AsyncSession, event_id: str, at: datetime) -> str:
    """An inbox event the provider created at ``at`` (what dates a plan change)."""
    session.add(
        InboxEvent(
            event_id=event_id,
            type="customer.subscription.updated",
            provider_created_at=at,
            payload={},
            status="processed",
            received_at=at,
            processed_at=at,
        )
    )
    await session.flush()
    return event_id


async def sync(session: AsyncSession, sub: ProviderSubscription, event_id: str | None = None) -> None:
    await sync_subscription(session, sub, Cause(actor="test", event_id=event_id))


async def ledger(session: AsyncSession) -> list[tuple[str, datetime, str, int, int]]:
    """The ledger as comparable tuples: (subscription, when, kind, mrr before, mrr after)."""
    rows = await session.execute(
        select(
            Subscription.stripe_id,
            MrrMovement.effective_at,
            MrrMovement.kind,
            MrrMovement.mrr_before,
            MrrMovement.mrr_after,
        )
        .join(Subscription, Subscription.id == MrrMovement.subscription_id)
        .order_by(MrrMovement.effective_at, Subscription.stripe_id)
    )
    return [(a, b, c, d, e) for a, b, c, d, e in rows.all()]


async def payment(
    session: AsyncSession,
    *,
    amount: int,
    at: datetime,
    status: str = PaymentStatus.SUCCEEDED,
    currency: str = "usd",
    refunded: int = 0,
    invoice: Invoice | None = None,
) -> Payment:
    row = Payment(
        amount=amount,
        currency=currency,
        status=status,
        amount_refunded=refunded,
        invoice_id=invoice.id if invoice else None,
        created_at=at,
        updated_at=at,
        raw={},
    )
    session.add(row)
    await session.flush()
    return row


async def invoice(
    session: AsyncSession,
    stripe_id: str,
    *,
    amount: int,
    at: datetime,
    paid_at: datetime | None = None,
    attempted_at: datetime | None = None,
) -> Invoice:
    """An invoice Billhook first saw at ``at``; ``attempted_at`` is the provider's finalization
    (first attempt) time, as Stripe sends it in ``status_transitions.finalized_at``."""
    finalized = int(attempted_at.timestamp()) if attempted_at else None
    row = Invoice(
        stripe_id=stripe_id,
        currency="usd",
        status="paid" if paid_at else "open",
        amount_due=amount,
        amount_paid=amount if paid_at else 0,
        paid_at=paid_at,
        created_at=at,
        updated_at=at,
        raw={"status_transitions": {"finalized_at": finalized}} if finalized else {},
    )
    session.add(row)
    await session.flush()
    return row


async def checkout(
    session: AsyncSession, stripe_id: str, *, plan: str, at: datetime, completed: bool
) -> None:
    session.add(
        CheckoutSession(
            stripe_id=stripe_id,
            product_id=plan,
            mode="subscription",
            status="complete" if completed else "open",
            completed_at=at if completed else None,
            created_at=at,
            updated_at=at,
            raw={},
        )
    )
    await session.flush()

"""Plan jobs: activate a new plan (hosting, membership); extend it on each renewal invoice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.fulfilment.records import Target
from billhook.fulfilment.requests import EventType, publish_event, request_email
from billhook.models import PlanTerm, Product, Subscription, User
from billhook.outbox import JobContext, PermanentJobError


def _subscription_id(target: Target) -> str:
    value = target.order.subscription_stripe_id or target.item.details.get("subscription")
    if not value:
        raise PermanentJobError(f"order {target.order.id} names no subscription to activate or renew")
    return str(value)


async def _period_end(session: AsyncSession, target: Target, subscription_id: str) -> datetime | None:
    """The paid period's end: from the order line, else from the subscription mirror."""
    raw = target.item.details.get("period_end")
    if raw:
        try:
            return datetime.fromisoformat(str(raw))
        except ValueError:
            raise PermanentJobError(f"period_end {raw!r} is not an ISO 8601 time") from None
    statement = select(Subscription.current_period_end).where(Subscription.stripe_id == subscription_id)
    return (await session.execute(statement)).scalars().first()


async def _term(session: AsyncSession, subscription_id: str) -> PlanTerm | None:
    statement = select(PlanTerm).where(PlanTerm.subscription_stripe_id == subscription_id)
    return (await session.execute(statement)).scalars().first()


def _event(term: PlanTerm, target: Target) -> dict[str, Any]:
    return {
        "subscription": term.subscription_stripe_id, "user_id": term.user_id, "product_id": term.product_id,
        "expires_at": term.expires_at.isoformat() if term.expires_at else None, "order_id": target.order.id,
    }  # fmt: skip


async def activate_plan(ctx: JobContext, target: Target) -> dict[str, Any]:
    subscription_id = _subscription_id(target)
    expires_at = await _period_end(ctx.session, target, subscription_id)
    now = ctx.runtime.clock.now()
    term = await _term(ctx.session, subscription_id)
    if term is None:
        term = PlanTerm(subscription_stripe_id=subscription_id, activated_at=now, renewals=0)
        ctx.session.add(term)
    term.user_id = target.order.user_id
    term.product_id = target.item.product_id
    term.status = "active"
    term.expires_at = expires_at
    await ctx.session.flush()
    key = f"{EventType.SUBSCRIPTION_ACTIVATED}:{subscription_id}:{target.reference}"
    await publish_event(ctx.session, EventType.SUBSCRIPTION_ACTIVATED, _event(term, target), key=key)
    return {"plan_term_id": term.id, "expires_at": expires_at.isoformat() if expires_at else None}


async def renew_plan(ctx: JobContext, target: Target) -> dict[str, Any]:
    """Extend the term to the renewed period's end and queue the renewal notice."""
    subscription_id = _subscription_id(target)
    new_end = await _period_end(ctx.session, target, subscription_id)
    if new_end is None:
        raise PermanentJobError(f"renewal of {subscription_id} carries no period_end")
    term = await _term(ctx.session, subscription_id)
    if term is None:  # renewed before Billhook saw the first payment (an import, a migration)
        term = PlanTerm(
            subscription_stripe_id=subscription_id,
            activated_at=ctx.runtime.clock.now(),
            user_id=target.order.user_id,
            product_id=target.item.product_id,
            renewals=0,
        )
        ctx.session.add(term)
    previous = term.expires_at
    term.expires_at = max(previous, new_end) if previous else new_end
    term.renewals = (term.renewals or 0) + 1
    term.status = "active"
    await ctx.session.flush()
    await _renewal_notice(ctx, target, term)
    key = f"{EventType.SUBSCRIPTION_RENEWED}:{subscription_id}:{target.reference}"
    await publish_event(ctx.session, EventType.SUBSCRIPTION_RENEWED, _event(term, target), key=key)
    return {"plan_term_id": term.id, "previous_expiry": previous.isoformat() if previous else None,
            "expires_at": term.expires_at.isoformat()}  # fmt: skip


async def _renewal_notice(ctx: JobContext, target: Target, term: PlanTerm) -> None:
    user = await ctx.session.get(User, target.order.user_id) if target.order.user_id else None
    if user is None:
        return
    product = await ctx.session.get(Product, term.product_id) if term.product_id else None
    # The keys of the notifications engineer's ``subscription_renewed`` template contract.
    context = {
        "name": user.name, "plan_name": product.name if product else term.product_id,
        "amount": target.order.amount_total, "currency": target.order.currency,
        "expires_at": term.expires_at.isoformat() if term.expires_at else None,
    }  # fmt: skip
    await request_email(
        ctx.session,
        template="subscription_renewed",
        to=user.email,
        context=context,
        cause_id=target.reference,
    )

"""A subscription's contribution to MRR, and the ledger of its changes (docs/analytics.md).

:func:`record` runs inside :func:`billhook.subscriptions.service.sync_subscription`, in the mirror's
transaction. The mirror always applies the provider's *current* subscription, so the ledger keys each
change by a time the provider gives for it rather than by when Billhook saw it:

- a trial starts at ``trial_start``; paying starts at ``trial_end`` (a converted trial) or at
  ``start_date``; an ended subscription ends at ``ended_at`` (Stripe sets it when access ends);
- a price or quantity change, which the subscription carries no time for, is dated by the provider
  event that revealed it (its ``created``, the inbox's ``provider_created_at``), else by the clock.

One row per subscription and effective time (a unique key): a replayed event finds its fact already
there. A fact arriving late (an older time than facts already recorded) is put in its place, and the
customer's rows are re-chained: ``*_before`` and ``kind`` are recomputed in time order, so the
ledger does not depend on the order facts arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.kit.clock import utcnow
from billhook.models import InboxEvent, MrrMovement, Subscription
from billhook.providers.base import ProviderDiscount, ProviderSubscription, ProviderSubscriptionItem


class State(StrEnum):
    NONE = "none"  # not started (incomplete: the first invoice is unpaid)
    TRIALING = "trialing"
    PAYING = "paying"  # active or past_due: past_due stays in MRR until canceled or unpaid
    INACTIVE = "inactive"  # unpaid or paused: no access, not (yet) canceled
    ENDED = "ended"  # canceled or incomplete_expired


class Kind(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"
    REACTIVATION = "reactivation"
    TRIAL_STARTED = "trial_started"
    TRIAL_ENDED = "trial_ended"
    UNCHANGED = "unchanged"


STATES = {
    "trialing": State.TRIALING,
    "active": State.PAYING,
    "past_due": State.PAYING,
    "unpaid": State.INACTIVE,
    "paused": State.INACTIVE,
    "canceled": State.ENDED,
    "incomplete_expired": State.ENDED,
}

# Months per billing interval (a year is 12 months, a week 12/52 of a month... inverted here).
_MONTHS = {"day": Fraction(12, 365), "week": Fraction(12, 52), "month": Fraction(1), "year": Fraction(12)}


def round_minor(value: Fraction) -> int:
    """Round to a whole minor unit, halves away from zero (16666.5 -> 16667)."""
    return int((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1), ROUND_HALF_UP))


def per_month(amount: int | Fraction, interval: str | None, interval_count: int = 1) -> Fraction:
    """An amount billed every ``interval_count`` ``interval``s, as an amount per month (exact).

    >>> round_minor(per_month(200_000, "year"))  # $2,000 a year is $166.67 of MRR
    16667
    """
    months = _MONTHS.get(interval or "month", Fraction(1)) * max(interval_count, 1)
    return Fraction(amount) / months


def _discounted(amount: Fraction, discounts: Sequence[ProviderDiscount], currency: str | None) -> Fraction:
    """Apply coupons as Stripe does per invoice: ``percent_off`` of the amount, ``amount_off`` in
    the coupon's currency (others cannot apply), never below zero."""
    for discount in discounts:
        if discount.percent_off is not None:
            amount *= 1 - Fraction(str(discount.percent_off)) / 100
        elif discount.amount_off is not None and (discount.currency in (None, currency)):
            amount -= discount.amount_off
    return max(amount, Fraction(0))


def _item_amount(item: ProviderSubscriptionItem) -> Fraction:
    billed = Fraction((item.unit_amount or 0) * item.quantity)
    return _discounted(billed, item.discounts, item.currency)


def monthly_amount(subscription: ProviderSubscription) -> int:
    """The subscription's amount per month after discounts, in minor units.

    Stripe requires every recurring item of a subscription to share one interval and currency
    (https://docs.stripe.com/billing/subscriptions/multiple-products), so subscription-level
    discounts apply to the billed total per period before it is normalised to a month.
    """
    items = [item for item in subscription.items if item.unit_amount is not None]
    if not items:
        return 0
    first = items[0]
    billed = _discounted(
        sum((_item_amount(item) for item in items), Fraction(0)), subscription.discounts, first.currency
    )
    return round_minor(per_month(billed, first.interval, first.interval_count))


@dataclass(frozen=True, slots=True)
class Contribution:
    state: State
    amount: int
    currency: str | None
    plan: str | None = None

    @property
    def mrr(self) -> int:
        return self.amount if self.state is State.PAYING else 0


def contribution(subscription: ProviderSubscription, plan: str | None) -> Contribution:
    item = subscription.first_item
    return Contribution(
        STATES.get(subscription.status, State.NONE),
        monthly_amount(subscription),
        (item.currency if item else None),
        plan,
    )


def _paying_since(subscription: ProviderSubscription) -> datetime | None:
    if subscription.trial_end and subscription.trial_start:
        return subscription.trial_end
    return subscription.start_date or subscription.created or subscription.current_period_start


def _effective_at(
    subscription: ProviderSubscription, now: Contribution, chain: Sequence[MrrMovement], event_at: datetime
) -> datetime:
    """The provider's time for the state ``now`` (see the module docstring)."""
    if now.state is State.TRIALING:
        return subscription.trial_start or subscription.created or event_at
    if now.state is State.ENDED:
        return subscription.ended_at or subscription.canceled_at or event_at
    if now.state is State.PAYING:
        since = _paying_since(subscription) or event_at
        earlier = [row for row in chain if row.effective_at <= event_at]
        # A canceled subscription never becomes active again: an active state read after its end
        # is an older state, dated by when paying started.
        if not earlier or earlier[-1].effective_at < since or earlier[-1].state_after == State.ENDED:
            return since  # paying since the start or the trial's end
        # A price or quantity change, or paying again after unpaid: after the fact it changes, even
        # when the provider's clock gives both the same second (a sandbox test clock stands still).
        return max(event_at, earlier[-1].effective_at + timedelta(seconds=1))
    return event_at


def _undated(subscription: ProviderSubscription, chain: Sequence[MrrMovement], now: datetime) -> datetime:
    """When no provider event dates a change (a user's own change, synced in the request): now,
    but never before what the provider already dated (a sandbox test clock runs ahead of the wall
    clock; a change cannot precede the facts it follows)."""
    known = [now, *(row.effective_at + timedelta(seconds=1) for row in chain[-1:])]
    if subscription.current_period_start is not None:
        known.append(subscription.current_period_start)
    return max(known)


def _implied(subscription: ProviderSubscription, now: Contribution) -> list[tuple[datetime, State]]:
    """Earlier lifecycle points the state implies, for facts never seen (a missed event, a rebuild).

    A trial started at ``trial_start``; a subscription now past due, unpaid, or ended after its
    paying start (not at the end of an unconverted trial) was paying from then.
    """
    points: list[tuple[datetime, State]] = []
    if subscription.trial_start and now.state is not State.TRIALING:
        points.append((subscription.trial_start, State.TRIALING))
    since = _paying_since(subscription)
    end = subscription.ended_at or subscription.canceled_at
    was_paying = now.state is State.INACTIVE or (
        now.state is State.ENDED and end is not None and since is not None and end > since
    )
    if since is not None and was_paying:
        points.append((since, State.PAYING))
    return points


# Built once: every subscription sync reads its chain.
_EVENT_TIME = select(InboxEvent.provider_created_at).where(InboxEvent.event_id == bindparam("event_id"))
_IN_ORDER = (MrrMovement.effective_at, MrrMovement.id)
_SUBSCRIPTION_CHAIN = (
    select(MrrMovement)
    .where(MrrMovement.subscription_id == bindparam("subscription_id"))
    .order_by(*_IN_ORDER)
)
_CUSTOMER_CHAIN = (
    select(MrrMovement)
    .where(MrrMovement.customer_id == bindparam("customer_id"), MrrMovement.currency == bindparam("currency"))
    .order_by(*_IN_ORDER)
)


async def _event_time(session: AsyncSession, event_id: str | None) -> datetime | None:
    if not event_id:
        return None
    found: datetime | None = await session.scalar(_EVENT_TIME, {"event_id": event_id})
    return found


async def _subscription_chain(session: AsyncSession, subscription_id: str) -> list[MrrMovement]:
    return list((await session.scalars(_SUBSCRIPTION_CHAIN, {"subscription_id": subscription_id})).all())


async def _customer_chain(session: AsyncSession, customer_id: str, currency: str) -> list[MrrMovement]:
    params = {"customer_id": customer_id, "currency": currency}
    return list((await session.scalars(_CUSTOMER_CHAIN, params)).all())


def _state_at(chain: Sequence[MrrMovement], at: datetime) -> tuple[State, int] | None:
    before = [row for row in chain if row.effective_at <= at]
    return (State(before[-1].state_after), before[-1].amount) if before else None


async def record(
    session: AsyncSession,
    row: Subscription,
    subscription: ProviderSubscription,
    *,
    event_id: str | None,
    event_created: datetime | None = None,
    now: datetime | None = None,
) -> MrrMovement | None:
    """Keep ``row.mrr``/``row.currency`` and write the ledger fact for ``subscription``'s state.

    ``event_created`` is the causing event's time when the caller has it (the inbox handlers do);
    else it is read from the inbox by ``event_id``. Returns the new or changed ledger row, or
    ``None`` when the state was already recorded.
    """
    current = contribution(subscription, row.product_id)
    row.mrr, row.currency = current.amount, current.currency or row.currency
    if row.customer_id is None or row.currency is None or current.state is State.NONE:
        return None
    chain = await _subscription_chain(session, row.id)
    event_at = (
        (event_created if event_id else None)
        or await _event_time(session, event_id)
        or _undated(subscription, chain, now or utcnow())
    )
    at = _effective_at(subscription, current, chain, event_at)
    written = [
        _put(
            session,
            row,
            chain,
            when,
            Contribution(state, current.amount, row.currency),
            event_id=None,
            overwrite=False,
        )
        for when, state in _implied(subscription, current)
    ]
    if not _known(chain, at, current, dated_by_event=at >= event_at):
        written.append(_put(session, row, chain, at, current, event_id=event_id, overwrite=True))
    fact = next((fact for fact in reversed(written) if fact is not None), None)
    if fact is not None:
        await session.flush()
        await rechain(session, row.customer_id, row.currency)
    return fact


def _known(
    chain: Sequence[MrrMovement], at: datetime, current: Contribution, *, dated_by_event: bool
) -> bool:
    state = (current.state, current.amount)
    if _state_at(chain, at) == state:
        return True
    # An older event replayed: its fetch shows the current state, already dated later.
    return (
        dated_by_event
        and bool(chain)
        and chain[-1].effective_at > at
        and _state_at(chain, chain[-1].effective_at) == state
    )


def _put(
    session: AsyncSession,
    row: Subscription,
    chain: list[MrrMovement],
    at: datetime,
    current: Contribution,
    *,
    event_id: str | None,
    overwrite: bool,
) -> MrrMovement | None:
    """Write the fact (``at``, state, amount) into the chain; implied facts never overwrite."""
    fact = next((fact for fact in chain if fact.effective_at == at), None)
    if fact is not None and (
        not overwrite or (fact.state_after, fact.amount) == (current.state, current.amount)
    ):
        return None
    if fact is None:
        if not overwrite and _state_at(chain, at) == (current.state, current.amount):
            return None
        assert row.customer_id is not None and row.currency is not None
        fact = MrrMovement(
            subscription_id=row.id,
            customer_id=row.customer_id,
            currency=row.currency,
            effective_at=at,
            kind=Kind.UNCHANGED,  # set with the *_before columns by rechain()
            state_before=State.NONE,
            mrr_before=0,
            mrr_after=0,
            customer_mrr_before=0,
            customer_mrr_after=0,
        )
        session.add(fact)
        chain.append(fact)
        chain.sort(key=lambda item: item.effective_at)
    fact.state_after, fact.amount, fact.plan = str(current.state), current.amount, row.product_id
    fact.event_id = event_id
    return fact


def classify(
    *,
    state_before: str,
    state_after: str,
    mrr_before: int,
    mrr_after: int,
    customer_before: int,
    customer_after: int,
    paid_before: bool,
) -> Kind:
    """The movement a change is, judged at the customer: a customer churns only when their last
    paying subscription ends; cancelling one of two is contraction (docs/analytics.md)."""
    if mrr_after > mrr_before:
        if customer_before > 0:
            return Kind.EXPANSION
        return Kind.REACTIVATION if paid_before else Kind.NEW
    if mrr_after < mrr_before:
        return Kind.CHURN if customer_after == 0 else Kind.CONTRACTION
    if state_after == State.TRIALING and state_before != State.TRIALING:
        return Kind.TRIAL_STARTED
    if state_before == State.TRIALING and state_after != State.TRIALING:
        return Kind.TRIAL_ENDED
    return Kind.UNCHANGED


async def rechain(session: AsyncSession, customer_id: str, currency: str) -> None:
    """Recompute ``*_before``, ``mrr_after`` and ``kind`` for one customer's rows in time order."""
    subscription_mrr: dict[str, int] = {}
    subscription_state: dict[str, str] = {}
    paid_before = False
    for fact in await _customer_chain(session, customer_id, currency):
        mrr_after = fact.amount if fact.state_after == State.PAYING else 0
        mrr_before = subscription_mrr.get(fact.subscription_id, 0)
        customer_before = sum(subscription_mrr.values())
        customer_after = customer_before - mrr_before + mrr_after
        state_before = subscription_state.get(fact.subscription_id, State.NONE)
        kind = classify(
            state_before=state_before,
            state_after=fact.state_after,
            mrr_before=mrr_before,
            mrr_after=mrr_after,
            customer_before=customer_before,
            customer_after=customer_after,
            paid_before=paid_before,
        )
        fact.state_before, fact.mrr_before, fact.mrr_after, fact.kind = (
            state_before,
            mrr_before,
            mrr_after,
            kind,
        )
        fact.customer_mrr_before, fact.customer_mrr_after = customer_before, customer_after
        subscription_mrr[fact.subscription_id] = mrr_after
        subscription_state[fact.subscription_id] = fact.state_after
        paid_before = paid_before or customer_after > 0
    await session.flush()


@dataclass(frozen=True, slots=True)
class Rebuilt:
    subscriptions: int
    facts_written: int


async def rebuild(session: AsyncSession, read: Callable[[dict[str, Any]], ProviderSubscription]) -> Rebuilt:
    """Fill the ledger from the mirror for installations older than it (``billhook analytics rebuild``).

    Each mirrored subscription's stored provider JSON (``raw``, read with ``read``) goes through
    :func:`record`, which writes only facts not already there: running it twice changes nothing.
    A price change the mirror cannot date is dated by the row's last update.
    """
    seen = written = 0
    after = ""
    while True:
        statement = select(Subscription).where(Subscription.id > after).order_by(Subscription.id).limit(500)
        rows = (await session.scalars(statement)).all()
        if not rows:
            return Rebuilt(seen, written)
        for row in rows:
            if row.raw:
                seen += 1
                fact = await record(session, row, read(row.raw), event_id=None, now=row.updated_at)
                written += fact is not None
        after = rows[-1].id
        await session.flush()
        session.expunge_all()  # keep memory flat over a large mirror

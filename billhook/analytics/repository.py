"""The analytics SQL: read-only, portable between SQLite and PostgreSQL.

Stock figures now (MRR, subscribers, paying customers) come from the subscription mirror;
at an earlier time ``t`` they are the figure now less every ledger change effective at or after
``t``. Buckets of a series are computed in Python and mapped with one ``CASE``, so a whole series is
one indexed range scan of the ledger.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLColumnExpression

from billhook.analytics.definitions import median_of_counts, percentile_of_counts
from billhook.models import (
    CheckoutSession,
    InboxEvent,
    InboxStatus,
    Invoice,
    JobStatus,
    MrrMovement,
    OutboxJob,
    Payment,
    PaymentStatus,
    Refund,
    Subscription,
)
from billhook.models.invoices import ATTEMPTED

PAYING_STATUSES = ("active", "past_due")
TRIALING_STATUSES = ("trialing",)
SUCCEEDED_PAYMENTS = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
ATTEMPTED_PAYMENTS = (*SUCCEEDED_PAYMENTS, PaymentStatus.FAILED)
MOVEMENT_KINDS = ("new", "expansion", "contraction", "churn", "reactivation")


@dataclass(frozen=True, slots=True)
class Stock:
    """Figures of the subscription mirror now, for one currency."""

    mrr: int = 0
    trial_mrr: int = 0
    active: int = 0
    trialing: int = 0
    scheduled_churn_mrr: int = 0
    paying_customers: int = 0


@dataclass(slots=True)
class Flow:
    """Ledger changes in one bucket: MRR change by kind, and subscriber and customer counts."""

    by_kind: dict[str, int] = field(default_factory=dict)
    mrr: int = 0
    active: int = 0
    trialing: int = 0
    customers: int = 0


def _sum(expression: SQLColumnExpression[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(expression), 0)


def _when(condition: ColumnElement[bool], value: SQLColumnExpression[int] | int = 1) -> ColumnElement[int]:
    return case((condition, value), else_=0)


async def stock_by_currency(session: AsyncSession) -> dict[str, Stock]:
    """MRR, trial MRR, subscribers, scheduled churn and paying customers now, per currency (every
    currency a subscription was ever mirrored in)."""
    s = Subscription
    paying = s.status.in_(PAYING_STATUSES)
    scheduled = and_(paying, or_(s.cancel_at_period_end.is_(True), s.cancel_at.is_not(None)))
    statement = (
        select(
            s.currency,
            _sum(_when(paying, s.mrr)),
            _sum(_when(s.status.in_(TRIALING_STATUSES), s.mrr)),
            _sum(_when(paying)),
            _sum(_when(s.status.in_(TRIALING_STATUSES))),
            _sum(_when(scheduled, s.mrr)),
        )
        .where(s.currency.is_not(None))  # every currency mirrored, with zeros where none pays now
        .group_by(s.currency)
    )
    customers = await paying_customers_by_currency(session)
    return {
        str(code): Stock(
            mrr=int(mrr),
            trial_mrr=int(trial_mrr),
            active=int(active),
            trialing=int(trialing),
            scheduled_churn_mrr=int(scheduled_mrr),
            paying_customers=customers.get(str(code), 0),
        )
        for code, mrr, trial_mrr, active, trialing, scheduled_mrr in (await session.execute(statement)).all()
    }


def _becomes_paying() -> ColumnElement[int]:
    """+1 when a ledger row takes its customer from no MRR to some, -1 the other way."""
    m = MrrMovement
    return _when(and_(m.customer_mrr_before == 0, m.customer_mrr_after > 0)) - _when(
        and_(m.customer_mrr_before > 0, m.customer_mrr_after == 0)
    )


async def paying_customers_by_currency(session: AsyncSession) -> dict[str, int]:
    """Customers paying now, per currency: the ledger's customer-level starts less its churns.

    A sum over one covering index, where counting distinct customers of the mirror meant hashing
    every paying subscription's customer id (docs/analytics.md: "paying customers").
    """
    m = MrrMovement
    statement = select(m.currency, _sum(_becomes_paying())).group_by(m.currency)
    return {str(code): int(count) for code, count in (await session.execute(statement)).all()}


def bucket_of(column: SQLColumnExpression[datetime], ends: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the bucket ``column`` falls in, given the buckets' ends; ``len(ends)`` after."""
    return case(*((column < end, literal(index)) for index, end in enumerate(ends)), else_=literal(len(ends)))


def _utc_day(column: SQLColumnExpression[datetime], dialect: str) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a UTC timestamp (SQLite stores them as ``YYYY-MM-DD HH:MM:SS…`` in UTC)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def _bucket_key(
    column: SQLColumnExpression[datetime], start: datetime, ends: Sequence[datetime], dialect: str
) -> tuple[ColumnElement[Any], Callable[[Any], int]]:
    """What to group ledger rows by, and how a group's key maps to a bucket index.

    Buckets whose boundaries are all UTC midnights (every preset, every custom period given as
    dates) group by day, then map days to buckets here: a year by day is 365 groups, not a
    365-branch CASE per row. Otherwise one CASE over the boundaries.
    """
    if start.time() != time(0) or any(end.time() != time(0) for end in ends[:-1]):
        return bucket_of(column, ends), int
    after = len(ends)
    starts = [start.date(), *(end.date() for end in ends[:-1])]
    key = case((column >= ends[-1], literal("after")), else_=_utc_day(column, dialect))

    def index(value: Any) -> int:
        return after if value == "after" else bisect_right(starts, date.fromisoformat(str(value))) - 1

    return key, index


async def ledger_flows(
    session: AsyncSession, currency: str, start: datetime, ends: Sequence[datetime]
) -> list[Flow]:
    """Ledger changes from ``start`` on, per bucket (``len(ends) + 1`` of them, the last after the
    period), so that stock at any bucket's end is the stock now less the later flows."""
    m = MrrMovement
    key, index_of = _bucket_key(m.effective_at, start, ends, session.get_bind().dialect.name)
    bucket = key.label("bucket")
    delta = m.mrr_after - m.mrr_before
    paying, trialing = literal("paying"), literal("trialing")
    statement = (
        select(
            bucket,
            m.kind,
            _sum(delta),
            _sum(_when(m.state_after == paying) - _when(m.state_before == paying)),
            _sum(_when(m.state_after == trialing) - _when(m.state_before == trialing)),
            _sum(_becomes_paying()),
        )
        .where(m.currency == currency, m.effective_at >= start)
        .group_by(bucket, m.kind)
    )
    flows = [Flow() for _ in range(len(ends) + 1)]
    for key_value, kind, mrr, active, trials, customers in (await session.execute(statement)).all():
        flow = flows[index_of(key_value)]
        flow.by_kind[kind] = flow.by_kind.get(kind, 0) + int(mrr)
        flow.mrr += int(mrr)
        flow.active += int(active)
        flow.trialing += int(trials)
        flow.customers += int(customers)
    return flows


async def churned_customers(
    session: AsyncSession, currency: str, start: datetime, end: datetime
) -> tuple[int, int]:
    """Customers who stopped paying in ``[start, end)``, and how many of them started in it too."""
    m = MrrMovement
    in_period = and_(m.currency == currency, m.effective_at >= start, m.effective_at < end)
    joined = select(m.customer_id).where(in_period, m.kind.in_(("new", "reactivation"))).scalar_subquery()
    statement = select(
        func.count(distinct(m.customer_id)),
        func.count(distinct(case((m.customer_id.in_(joined), m.customer_id)))),
    ).where(in_period, m.kind == "churn")
    churned, joined_count = (await session.execute(statement)).one()
    return int(churned), int(joined_count)


async def mrr_changes_since(session: AsyncSession, at: datetime) -> dict[str, int]:
    """Per currency, the MRR change effective at or after ``at`` (MRR then = MRR now less this)."""
    m = MrrMovement
    statement = (
        select(m.currency, _sum(m.mrr_after - m.mrr_before)).where(m.effective_at >= at).group_by(m.currency)
    )
    return {str(code): int(total) for code, total in (await session.execute(statement)).all()}


async def conversion_by_plan(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[str, int, int]]:
    """(plan, opened, completed) for the checkout sessions opened in ``[start, end)``."""
    c = CheckoutSession
    plan = func.coalesce(c.product_id, c.price_stripe_id, literal("(none)")).label("plan")
    completed = or_(c.status == "complete", c.completed_at.is_not(None))
    statement = (
        select(plan, func.count(), _sum(_when(completed)))
        .where(c.created_at >= start, c.created_at < end)
        .group_by(plan)
        .order_by(plan)
    )
    return [
        (str(name), int(opened), int(done)) for name, opened, done in (await session.execute(statement)).all()
    ]


def _failed_invoice() -> ColumnElement[bool]:
    """An invoice with at least one failed payment attempt (Stripe's ``attempt_count``): paid after
    two or more attempts, or still open/uncollectible after one or more."""
    i = Invoice
    return and_(
        # The partial index's predicate, verbatim, so that PostgreSQL uses it (models/invoices.py).
        text(f"({ATTEMPTED})"),
        or_(
            and_(i.status == "paid", i.attempt_count >= 2),
            and_(i.status.in_(("open", "uncollectible")), i.attempt_count >= 1),
        ),
    )


@dataclass(frozen=True, slots=True)
class FailedInvoice:
    """A failed invoice; ``first_attempt`` and ``paid_at`` are both the provider's times."""

    currency: str
    amount: int
    first_seen: datetime
    paid_at: datetime | None
    first_attempt: datetime


def _epoch(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


async def failed_invoices(session: AsyncSession, start: datetime, end: datetime) -> list[FailedInvoice]:
    """Invoices first seen by Billhook in ``[start, end)`` with a failed attempt.

    Their first attempt is on the provider's clock, like ``paid_at``: an automatically collected
    invoice is attempted when it is finalized (``status_transitions.finalized_at``,
    https://docs.stripe.com/invoicing/integration/workflow-transitions), else at its ``created``.
    Only an invoice with neither (never the case for a Stripe one) falls back to Billhook's row time.
    """
    i = Invoice
    finalized = i.raw["status_transitions"]["finalized_at"].as_integer()
    created = i.raw["created"].as_integer()
    statement = select(i.currency, i.amount_due, i.created_at, i.paid_at, finalized, created).where(
        i.created_at >= start, i.created_at < end, _failed_invoice()
    )
    rows = (await session.execute(statement)).all()
    return [
        FailedInvoice(currency, int(amount), seen, paid, _epoch(final) or _epoch(made) or seen)
        for currency, amount, seen, paid, final, made in rows
    ]


async def revenue_by_currency(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    """Succeeded payments made in ``[start, end)`` less refunds made in it, per currency."""
    p, r = Payment, Refund
    paid = select(p.currency, _sum(p.amount)).where(
        p.created_at >= start, p.created_at < end, p.status.in_(SUCCEEDED_PAYMENTS)
    )
    refunded = select(r.currency, _sum(r.amount)).where(
        r.created_at >= start, r.created_at < end, r.status == "succeeded"
    )
    totals: dict[str, int] = {}
    for currency, amount in (await session.execute(paid.group_by(p.currency))).all():
        totals[currency] = totals.get(currency, 0) + int(amount)
    for currency, amount in (await session.execute(refunded.group_by(r.currency))).all():
        totals[currency] = totals.get(currency, 0) - int(amount)
    return dict(sorted(totals.items()))


async def jobs_by_type(session: AsyncSession, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """Per job type, (done, finished) over the outbox jobs finished in ``[start, end)``."""
    j = OutboxJob
    statement = (
        select(j.type, _sum(_when(j.status == JobStatus.DONE)), func.count())
        .where(j.finished_at >= start, j.finished_at < end, j.status.in_((JobStatus.DONE, JobStatus.DEAD)))
        .group_by(j.type)
        .order_by(j.type)
    )
    return {kind: (int(done), int(total)) for kind, done, total in (await session.execute(statement)).all()}


async def payment_attempts(session: AsyncSession, start: datetime, end: datetime) -> tuple[int, int]:
    """(attempted, succeeded) over payments made in ``[start, end)`` that are no longer pending.

    Counted per status (a hash aggregate of a few groups over the covering index) and added up
    here: measured a little cheaper than a ``CASE`` evaluated on each of a year's payments.
    """
    p = Payment
    statement = (
        select(p.status, func.count())
        .where(p.created_at >= start, p.created_at < end, p.status.in_(ATTEMPTED_PAYMENTS))
        .group_by(p.status)
    )
    counts = {str(status): int(count) for status, count in (await session.execute(statement)).all()}
    return sum(counts.values()), sum(counts.get(status, 0) for status in SUCCEEDED_PAYMENTS)


async def webhook_latency(
    session: AsyncSession, start: datetime, end: datetime
) -> tuple[float | None, float | None]:
    """p50 and p99 seconds from received to applied, over events applied in ``[start, end)``."""
    e = InboxEvent
    where = (e.processed_at >= start, e.processed_at < end, e.status == InboxStatus.PROCESSED)
    # A histogram by whole millisecond (a hash aggregate of a few thousand groups), not a sort of
    # every event: percentiles at millisecond resolution, the same on both databases.
    if session.get_bind().dialect.name == "postgresql":
        millis = func.round(func.extract("epoch", e.processed_at - e.received_at) * 1000)
    else:  # julianday() is a float of days, which resolves milliseconds
        millis = func.round(
            (func.julianday(e.processed_at) - func.julianday(e.received_at)) * cast(86_400_000.0, Float)
        )
    statement = select(millis, func.count()).where(*where).group_by(millis)
    counts = {float(value) / 1000: int(count) for value, count in (await session.execute(statement)).all()}
    return median_of_counts(counts), percentile_of_counts(counts, 0.99)


@dataclass(frozen=True, slots=True)
class PlanStatus:
    plan: str
    status: str
    currency: str
    subscriptions: int
    mrr: int


async def subscriptions_by_plan_and_status(session: AsyncSession) -> list[PlanStatus]:
    """Subscription count and summed monthly amount per plan, status and currency (one scan)."""
    s = Subscription
    plan = func.coalesce(s.product_id, s.price_stripe_id, literal("(none)"))
    currency = func.coalesce(s.currency, literal(""))
    statement = select(plan, s.status, currency, func.count(), _sum(s.mrr)).group_by(plan, s.status, currency)
    rows = (await session.execute(statement)).all()
    return [PlanStatus(str(p), str(st), str(c), int(n), int(m)) for p, st, c, n, m in rows]

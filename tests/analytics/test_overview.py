"""Overview and operations figures from rows built through the mirror and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.analytics.periods import parse_period
from billhook.analytics.service import operations, overview
from billhook.models import InboxEvent, JobStatus, OutboxJob, PaymentStatus
from tests.support.analytics_factories import (
    changed,
    checkout,
    day,
    event,
    invoice,
    payment,
    subscription,
    sync,
)

NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)
DECEMBER = datetime(2025, 12, 1, tzinfo=UTC)
JANUARY = parse_period("custom", "2026-01-01", "2026-01-31", "week", NOW)


async def _revenue_churn_example(session: AsyncSession) -> None:
    """$100 of MRR on Jan 1; in January -$10 churn, -$10 contraction, +$10 expansion."""
    a = subscription("sub_a", "cus_a", amount=4000, start=DECEMBER)
    b = subscription("sub_b", "cus_b", amount=3000, start=DECEMBER)
    for sub in (a, b, subscription("sub_c", "cus_c", amount=2000, start=DECEMBER)):
        await sync(session, sub)
    await sync(session, subscription("sub_d", "cus_d", amount=1000, start=DECEMBER))
    await sync(
        session, subscription("sub_d", "cus_d", "canceled", amount=1000, start=DECEMBER, ended_at=day(9))
    )
    await sync(session, changed(a, unit_amount=3000), await event(session, "evt_down", day(10)))
    await sync(session, changed(b, unit_amount=4000), await event(session, "evt_up", day(20)))


async def test_the_revenue_churn_worked_example_through_the_ledger(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await _revenue_churn_example(session)
        figures = await overview(session, JANUARY, currency=None, now=NOW)
    assert (figures.currency, figures.mrr_at_start, figures.mrr, figures.arr) == (
        "usd",
        10_000,
        9000,
        108_000,
    )
    assert (figures.movements.churn, figures.movements.contraction, figures.movements.expansion) == (
        -1000,
        -1000,
        1000,
    )
    assert figures.movements.net_new == -1000
    assert figures.gross_revenue_churn_rate == pytest.approx(0.2)
    assert figures.net_revenue_churn_rate == pytest.approx(0.1)
    assert figures.net_revenue_retention == pytest.approx(0.9)
    assert (figures.paying_customers, figures.customers_at_start, figures.arpu) == (3, 4, 3000)
    assert figures.customer_churn_rate == pytest.approx(0.25)


async def test_the_series_ends_at_the_period_figures(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await _revenue_churn_example(session)
        figures = await overview(session, JANUARY, currency="usd", now=NOW)
    mrr_by_week = [(point.start.day, point.mrr) for point in figures.series]
    assert mrr_by_week == [(1, 10_000), (5, 8000), (12, 8000), (19, 9000), (26, 9000)]  # at each week's end
    assert figures.series[-1].active_subscriptions == figures.active_subscriptions == 3
    assert sum(point.movements.net_new for point in figures.series) == figures.movements.net_new


async def test_customer_churn_leaves_out_customers_who_joined_and_left_in_the_period(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        for n in range(10):
            await sync(session, subscription(f"sub_{n}", f"cus_{n}", start=DECEMBER))
        await sync(session, subscription("sub_new", "cus_new", "canceled", start=day(3), ended_at=day(12)))
        for n in range(2):
            await sync(
                session, subscription(f"sub_{n}", f"cus_{n}", "canceled", start=DECEMBER, ended_at=day(15))
            )
        figures = await overview(session, JANUARY, currency="usd", now=NOW)
    assert (figures.churned_customers, figures.customers_at_start) == (3, 10)
    assert figures.churned_joined_in_period == 1
    assert figures.customer_churn_rate == pytest.approx(0.2)  # (3 - 1) / 10
    assert (figures.movements.new, figures.movements.churn) == (1000, -3000)


async def test_trials_are_trial_mrr_and_scheduled_cancellations_leave_committed_mrr(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(
            session, subscription("sub_t", "cus_t", "trialing", amount=5000, start=day(5), trial_days=30)
        )
        await sync(session, subscription("sub_y", "cus_y", amount=200_000, interval="year", start=DECEMBER))
        await sync(
            session, subscription("sub_m", "cus_m", amount=1000, start=DECEMBER, cancel_at_period_end=True)
        )
        figures = await overview(session, JANUARY, currency=None, now=NOW)
    assert (figures.mrr, figures.trial_mrr, figures.trialing_subscriptions) == (17_667, 5000, 1)
    assert (figures.committed_mrr, figures.scheduled_churn_mrr) == (16_667, 1000)
    assert figures.series[0].trialing_subscriptions == 0 and figures.series[1].trialing_subscriptions == 1


async def test_each_currency_has_its_own_figures(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_u", "cus_u", amount=1000, start=DECEMBER))
        await sync(session, subscription("sub_e", "cus_e", amount=5000, currency="eur", start=DECEMBER))
        most = await overview(session, JANUARY, currency=None, now=NOW)
        usd = await overview(session, JANUARY, currency="usd", now=NOW)
    assert (most.currency, most.mrr, most.currencies) == ("eur", 5000, ("eur", "usd"))
    assert usd.mrr == 1000


async def test_conversion_recovery_and_revenue(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        for n, completed in enumerate([True, False, True, True]):
            await checkout(session, f"cs_{n}", plan="premium", at=day(2 + n), completed=completed)
        await checkout(session, "cs_old", plan="premium", at=DECEMBER, completed=False)
        recovered = await invoice(
            session, "in_1", amount=3000, at=day(3), paid_at=day(5), attempted_at=day(3) + timedelta(hours=12)
        )
        recovered.attempt_count = 2
        lost = await invoice(session, "in_2", amount=1000, at=day(4))
        lost.attempt_count = 3
        await payment(
            session,
            amount=3000,
            at=day(3) + timedelta(hours=12),
            status=PaymentStatus.SUCCEEDED,
            invoice=recovered,
        )
        await payment(session, amount=1000, at=day(4), status=PaymentStatus.FAILED, invoice=lost)
        await payment(session, amount=2000, at=day(6), refunded=500, status=PaymentStatus.PARTIALLY_REFUNDED)
        await payment(session, amount=7000, at=day(6), currency="eur")
        figures = await overview(session, JANUARY, currency="usd", now=NOW)
    assert [(c.plan, c.opened, c.completed, c.rate) for c in figures.conversion] == [("premium", 4, 3, 0.75)]
    recovery = figures.recovery
    assert (recovery.failed_invoices, recovery.recovered_invoices, recovery.rate) == (2, 1, 0.5)
    assert recovery.amount_rate == pytest.approx(0.75)
    assert recovery.median_seconds_to_recover == 1.5 * 86400
    assert figures.revenue_by_currency == {"eur": 7000, "usd": 5000}  # refunds are rows of their own
    assert [point.failed_payments for point in figures.series][:2] == [1, 1]


async def test_time_to_recover_is_measured_on_the_providers_clock(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A renewal declined on the provider's day 10 and paid 5 hours later recovered in 5 hours,
    although Billhook recorded its rows on day 3 (a Stripe test clock runs ahead of Billhook's)."""
    attempted = day(10)
    async with session_factory() as session:
        paid = attempted + timedelta(hours=5)
        renewal = await invoice(session, "in_r", amount=9900, at=day(3), paid_at=paid, attempted_at=attempted)
        renewal.attempt_count = 2
        await payment(session, amount=9900, at=day(3), status=PaymentStatus.SUCCEEDED, invoice=renewal)
        figures = await overview(session, JANUARY, currency="usd", now=NOW)
    assert figures.recovery.median_seconds_to_recover == 5 * 3600
    by_bucket = [(p.failed_payments, p.recovered_payments) for p in figures.series]
    week_of_day_10 = next(n for n, p in enumerate(figures.series) if p.start <= attempted < (p.end or NOW))
    assert by_bucket[week_of_day_10] == (1, 1)  # failed and recovered in the week they happened
    assert sum(failed for failed, _ in by_bucket) == sum(recovered for _, recovered in by_bucket) == 1


async def test_operations_figures(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        for n, (kind, status) in enumerate(
            [("email", JobStatus.DONE), ("email", JobStatus.DEAD), ("order", JobStatus.DONE)]
        ):
            session.add(OutboxJob(key=f"k{n}", type=kind, payload={}, status=status, finished_at=day(3)))
        session.add(OutboxJob(key="pending", type="email", payload={}, status=JobStatus.PENDING))
        for n, seconds in enumerate([1, 2, 3, 4]):
            session.add(
                InboxEvent(
                    event_id=f"evt_{n}", type="invoice.paid", payload={}, status="processed",
                    received_at=day(2), processed_at=day(2) + timedelta(seconds=seconds),
                )
            )  # fmt: skip
        await payment(session, amount=100, at=day(2))
        await payment(session, amount=100, at=day(2), status=PaymentStatus.FAILED)
        await payment(session, amount=100, at=day(2), status=PaymentStatus.PENDING)
        figures = await operations(session, JANUARY)
    assert (figures.jobs_finished, figures.jobs_dead, figures.job_success_by_type) == (
        3,
        1,
        {"email": (1, 2), "order": (1, 1)},
    )
    assert figures.job_success_rate == pytest.approx(2 / 3)
    assert (figures.payments_attempted, figures.payments_succeeded, figures.payment_success_rate) == (
        2,
        1,
        0.5,
    )
    assert figures.webhook_p50_seconds == pytest.approx(2.5) and figures.webhook_p99_seconds == pytest.approx(
        4
    )


async def test_a_period_starting_mid_day_buckets_the_same_way(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    mid_day = parse_period("custom", "2026-01-01T06:00:00+00:00", "2026-01-31", "week", NOW)
    async with session_factory() as session:
        await _revenue_churn_example(session)
        by_day = await overview(session, JANUARY, currency="usd", now=NOW)
        by_case = await overview(session, mid_day, currency="usd", now=NOW)
    assert [p.mrr for p in by_case.series] == [p.mrr for p in by_day.series]
    assert by_case.movements == by_day.movements

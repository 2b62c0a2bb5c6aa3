"""The MRR ledger is written with the mirror change and does not depend on delivery order."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.audit import Cause
from billhook.models import Subscription
from billhook.providers.base import ProviderDiscount
from billhook.subscriptions.service import sync_subscription
from tests.support.analytics_factories import changed, day, event, ledger, subscription, sync


async def test_a_trial_that_converts_then_cancels_gives_trial_new_and_churn(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    trialing = subscription("sub_a", "cus_a", "trialing", amount=2000, trial_days=14)
    async with session_factory() as session:
        await sync(session, trialing)
        await sync(session, subscription("sub_a", "cus_a", "active", amount=2000, trial_days=14))
        await sync(
            session, subscription("sub_a", "cus_a", "canceled", amount=2000, trial_days=14, ended_at=day(44))
        )
        await session.commit()
        assert await ledger(session) == [
            ("sub_a", day(0), "trial_started", 0, 0),
            ("sub_a", day(14), "new", 0, 2000),
            ("sub_a", day(44), "churn", 2000, 0),
        ]


async def test_the_subscription_row_keeps_its_monthly_amount_and_currency(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    yearly = subscription("sub_y", "cus_y", amount=200_000, interval="year", currency="eur")
    async with session_factory() as session:
        await sync(session, yearly)
        row = await session.scalar(select(Subscription).where(Subscription.stripe_id == "sub_y"))
        assert row is not None and (row.mrr, row.currency) == (16667, "eur")


async def test_mrr_is_after_discounts_and_per_interval_count(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    quarterly = subscription(
        "sub_q", "cus_q", amount=3000, interval="month", interval_count=3, quantity=2,
        discounts=[ProviderDiscount(id="di_1", percent_off=25.0)],
    )  # fmt: skip
    async with session_factory() as session:
        await sync(session, quarterly)
        assert (await ledger(session))[-1][-1] == 1500  # 2 x 30.00 every 3 months, 25 % off


async def test_replaying_the_same_state_adds_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    active = subscription("sub_r", "cus_r")
    async with session_factory() as session:
        for _ in range(3):
            await sync(session, active)
        assert await ledger(session) == [("sub_r", day(0), "new", 0, 1000)]


async def test_a_plan_change_is_dated_by_the_event_that_revealed_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    basic = subscription("sub_p", "cus_p")
    async with session_factory() as session:
        await sync(session, basic)
        upgrade = await event(session, "evt_up", day(10))
        await sync(session, changed(basic, unit_amount=3000), upgrade)
        await sync(session, changed(basic, unit_amount=3000), upgrade)  # replayed
        assert await ledger(session) == [
            ("sub_p", day(0), "new", 0, 1000),
            ("sub_p", day(10), "expansion", 1000, 3000),
        ]


async def test_a_plan_change_is_dated_by_the_time_its_cause_carries_without_reading_the_inbox(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The inbox handlers pass the event's ``created`` along; no inbox row is looked up."""
    basic = subscription("sub_c", "cus_c")
    revealed = Cause(actor="webhook", event_id="evt_not_stored", event_created=day(12))
    async with session_factory() as session:
        await sync(session, basic)
        await sync_subscription(session, changed(basic, unit_amount=3000), revealed)
        assert await ledger(session) == [
            ("sub_c", day(0), "new", 0, 1000),
            ("sub_c", day(12), "expansion", 1000, 3000),
        ]


async def test_cancelling_one_of_two_subscriptions_is_contraction_and_the_last_is_churn(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_1", "cus_two", amount=1000))
        await sync(session, subscription("sub_2", "cus_two", amount=500, start=day(1)))
        await sync(session, subscription("sub_1", "cus_two", "canceled", amount=1000, ended_at=day(5)))
        await sync(
            session, subscription("sub_2", "cus_two", "canceled", amount=500, start=day(1), ended_at=day(6))
        )
        kinds = [(sub, kind) for sub, _, kind, _, _ in await ledger(session)]
        assert kinds == [
            ("sub_1", "new"),
            ("sub_2", "expansion"),
            ("sub_1", "contraction"),
            ("sub_2", "churn"),
        ]


async def test_a_returning_customer_is_reactivation(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_old", "cus_back", "canceled", ended_at=day(3)))
        await sync(session, subscription("sub_new", "cus_back", start=day(9)))
        assert [kind for _, _, kind, _, _ in await ledger(session)] == ["new", "churn", "reactivation"]


async def test_past_due_stays_in_mrr_and_unpaid_leaves_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_d", "cus_d"))
        await sync(session, subscription("sub_d", "cus_d", "past_due"))
        assert len(await ledger(session)) == 1
        unpaid = await event(session, "evt_unpaid", day(40))
        await sync(session, subscription("sub_d", "cus_d", "unpaid"), unpaid)
        assert (await ledger(session))[-1] == ("sub_d", day(40), "churn", 1000, 0)


STATES = [
    subscription("sub_x", "cus_x", "trialing", amount=1200, trial_days=7),
    subscription("sub_x", "cus_x", "active", amount=1200, trial_days=7),
    subscription("sub_x", "cus_x", "canceled", amount=1200, trial_days=7, ended_at=day(60)),
    subscription("sub_z", "cus_x", "active", amount=800, start=day(2)),
]


async def test_any_order_of_deliveries_and_replays_gives_the_same_ledger(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    results = []
    for n, order in enumerate(itertools.permutations(STATES)):
        async with session_factory() as session:
            for state in (*order, order[0]):  # and one replay
                await sync(session, state)
            results.append(await ledger(session))
            await session.rollback()
        if n > 12:
            break
    expected = [
        ("sub_x", day(0), "trial_started", 0, 0),
        ("sub_z", day(2), "new", 0, 800),
        ("sub_x", day(7), "expansion", 0, 1200),
        ("sub_x", day(60), "contraction", 1200, 0),
    ]
    assert all(result == expected for result in results), results


async def test_the_ledger_commits_or_rolls_back_with_the_mirror(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        await sync(session, subscription("sub_tx", "cus_tx"))
        await session.rollback()
    async with session_factory() as session:
        assert await ledger(session) == []
        assert await session.scalar(select(Subscription).where(Subscription.stripe_id == "sub_tx")) is None

"""Applying one fetched copy of a subscription again in the same transaction (the inbox applies a
customer's checkout, subscription and invoice events together, each syncing the subscription from
the group's one copy) changes nothing and reads nothing, unless what it is applied against moved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.audit import Cause
from billhook.models import Customer, User
from billhook.subscriptions.service import sync_subscription
from tests.support.analytics_factories import subscription

CAUSE = Cause(actor="test", event_id=None)


async def test_the_same_copy_again_changes_nothing_and_reads_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    copy = subscription("sub_again", "cus_again")
    async with session_factory() as session:
        first = await sync_subscription(session, copy, CAUSE)
        statements: list[Any] = []
        sync_engine = session.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(sync_engine, "before_cursor_execute", listener)
        try:
            again = await sync_subscription(session, copy, CAUSE)
        finally:
            event.remove(sync_engine, "before_cursor_execute", listener)
        assert first.created and not again.changed and again.row is first.row
        assert statements == []


async def test_a_user_linked_in_between_still_reaches_the_subscription(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    copy = subscription("sub_linked", "cus_linked")
    async with session_factory() as session:
        first = await sync_subscription(session, copy, CAUSE)
        assert first.row.user_id is None
        user = User(email="linked@example.com", password_hash="x", role="free")
        session.add(user)
        await session.flush()
        customer = await session.get(Customer, first.row.customer_id)
        assert customer is not None
        customer.user_id = user.id  # what link_user does when the checkout's event comes second
        again = await sync_subscription(session, copy, CAUSE)
        assert again.changes == {"user_id": [None, user.id]} and again.row.user_id == user.id

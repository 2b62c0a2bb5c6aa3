"""End to end through the sandbox: webhooks -> mirror -> MRR ledger -> the API's figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from billhook.models import User
from tests.support.stack import Stack, running_stack, sandbox_template
from tests.support.subscriptions import post, subscribed

__all__ = ["sandbox_template"]


@pytest.fixture
async def stack(database_url: str, tmp_path: Path, sandbox_template: Path) -> AsyncIterator[Stack]:
    async with running_stack(database_url, tmp_path, sandbox_template) as running:
        yield running


async def _metrics(stack: Stack, headers: dict[str, str], days: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    period = {
        "from": str(today - timedelta(days=1)),
        "to": str(today + timedelta(days=days)),
        "interval": "week",
    }
    response = await stack.http.get("/api/admin/metrics", params=period, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_trial_a_plan_and_a_cancellation_at_period_end_give_the_figures(stack: Stack) -> None:
    root = await stack.register("root@example.com")
    async with stack.db() as session:
        await session.execute(update(User).where(User.email == "root@example.com").values(role="admin"))
        await session.commit()
    await subscribed(stack, "ada@example.com", "premium_sub")  # a 7-day trial, $29.00 a month
    bob = await subscribed(stack, "bob@example.com", "enterprise_sub")  # $99.00 a month
    assert (await post(stack, bob, "/api/subscription/cancel", reason="too expensive")).status_code == 200
    await stack.settled()

    now = await _metrics(stack, root.headers, days=1)
    assert (now["mrr"], now["trial_mrr"], now["active_subscriptions"], now["trialing_subscriptions"]) == (
        9900, 2900, 1, 1,
    )  # fmt: skip
    assert (now["scheduled_churn_mrr"], now["committed_mrr"], now["movements"]["new"]) == (9900, 0, 9900)

    await stack.advance(days=40)  # ada's trial converts; bob's subscription ends with its period
    await stack.settled()
    carol = await subscribed(stack, "carol@example.com", "enterprise_sub")
    await stack.settled()  # a change before Billhook first sees the subscription is part of its start
    downgrade = await post(stack, carol, "/api/subscription/change-plan", product_id="premium_sub")
    assert downgrade.status_code == 200, downgrade.text
    await stack.settled()
    later = await _metrics(stack, root.headers, days=45)
    assert (later["mrr"], later["active_subscriptions"], later["trialing_subscriptions"]) == (5800, 2, 0)
    assert later["movements"] == {
        "new": 22_700, "expansion": 0, "contraction": -7000, "churn": -9900, "reactivation": 0,
        "net_new": 5800,
    }  # fmt: skip
    assert later["customer_churn_rate"] is None  # nobody was paying at the start; bob joined and left within

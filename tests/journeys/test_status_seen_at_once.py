"""A customer sees a change the moment the mirror has it (issue #18, problem 3): a failed
renewal is past_due in GET /api/subscription and on /account within a second, and so is the end
of a trial; one place marks the cached views stale (billhook/customers/views.py)."""

from __future__ import annotations

import asyncio
import time

from tests.support.stack import PASSWORD, Customer, Stack
from tests.support.subscriptions import overview, status_becomes, subscribed

SOON = 1.0  # seconds between the event being applied and the API saying so


async def shown_within_a_second(stack: Stack, who: Customer, status: str) -> None:
    """Wait for the mirror to hold ``status``; then the API and /account must show it within SOON."""
    await status_becomes(stack, who, status)
    applied = time.monotonic()
    while (await overview(stack, who))["status"] != status:
        assert time.monotonic() - applied < SOON, "GET /api/subscription still shows the old status"
        await asyncio.sleep(0.05)
    async with stack.browser() as browser:
        login = await browser.post("/api/auth/login", json={"email": who.email, "password": PASSWORD})
        browser.cookies.set("billhook_session", login.json()["access_token"])
        page = (await browser.get("/account")).text
    assert f'id="subscription-status">{status.replace("_", " ")}<' in page


async def test_a_failed_renewal_is_past_due_at_once(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub", card="4000 0000 0000 0341")
    await status_becomes(stack, ada, "active")
    await stack.settled()
    assert (await overview(stack, ada))["status"] == "active"  # now cached

    await stack.advance(days=31)  # the renewal charge fails off-session

    await shown_within_a_second(stack, ada, "past_due")


async def test_the_end_of_a_trial_is_active_at_once(stack: Stack) -> None:
    ada = await subscribed(stack, product_id="premium_sub")
    await stack.settled()
    assert (await overview(stack, ada))["status"] == "trialing"  # now cached

    await stack.advance(days=8)

    await shown_within_a_second(stack, ada, "active")

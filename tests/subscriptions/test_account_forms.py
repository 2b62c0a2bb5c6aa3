"""The account page's subscription partial and its CSRF-protected forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.support.stack import PASSWORD, Customer, Stack
from tests.support.subscriptions import overview, subscribed

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def account_browser(stack: Stack, who: Customer) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with stack.browser() as browser:
        yield browser, await _sign_in(browser, who)


async def _sign_in(browser: httpx.AsyncClient, who: Customer) -> str:
    login = await browser.post("/api/auth/login", json={"email": who.email, "password": PASSWORD})
    browser.cookies.set("billhook_session", login.json()["access_token"])
    assert (await browser.get("/account")).status_code == 200
    match = CSRF.search((await browser.get("/pricing")).text)  # the same token on every page
    assert match is not None
    return match.group(1)


async def test_the_account_page_shows_the_subscription_and_no_subscription(stack: Stack) -> None:
    bob = await stack.register("bob@example.com")
    async with account_browser(stack, bob) as (browser, _):
        assert "You have no subscription" in (await browser.get("/account")).text
    ada = await subscribed(stack)
    async with account_browser(stack, ada) as (browser, _):
        page = (await browser.get("/account")).text
    assert 'id="subscription-plan">Premium<' in page and "Visa ending 4242" in page
    assert "Cancel at period end" in page and 'value="enterprise_sub"' in page


async def test_the_forms_cancel_resume_change_plan_and_open_the_portal(stack: Stack) -> None:
    ada = await subscribed(stack)
    async with account_browser(stack, ada) as (browser, csrf):
        refused = await browser.post("/account/subscription/cancel", data={})
        assert refused.status_code == 403
        assert (await overview(stack, ada))["cancel_at_period_end"] is False

        cancel = await browser.post("/account/subscription/cancel", data={"csrf_token": csrf})
        assert (cancel.status_code, cancel.headers["location"]) == (303, "/account")
        assert "Resume subscription" in (await browser.get("/account")).text
        assert (await overview(stack, ada))["cancel_at_period_end"] is True

        resume = await browser.post("/account/subscription/resume", data={"csrf_token": csrf})
        assert resume.status_code == 303
        assert (await overview(stack, ada))["cancel_at_period_end"] is False

        change = await browser.post(
            "/account/subscription/change-plan", data={"csrf_token": csrf, "product_id": "enterprise_sub"}
        )
        assert change.status_code == 303
        assert (await overview(stack, ada))["plan"] == "enterprise_sub"
        wrong = await browser.post(
            "/account/subscription/change-plan", data={"csrf_token": csrf, "product_id": "starter"}
        )
        assert wrong.status_code == 422 and "not an active subscription plan" in wrong.text

        portal = await browser.post("/account/subscription/portal", data={"csrf_token": csrf})
        assert portal.status_code == 303 and portal.headers["location"].startswith(
            f"{stack.api_base}/portal/"
        )
        unknown = await browser.post("/account/subscription/explode", data={"csrf_token": csrf})
        assert unknown.status_code == 404

"""The success redirect, the cancel page and the pricing form's ``POST /checkout/start``."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from sqlalchemy import select, update

from billhook.models import AuditEntry, InboxEvent, Order, OutboxJob, Subscription
from tests.support.stack import PASSWORD, Customer, Stack

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def cached(stack: Stack, *parts: str) -> Any:
    cache = stack.runtime.cache
    assert cache is not None
    future = asyncio.run_coroutine_threadsafe(cache.get(*parts), stack.server.loop)
    return await asyncio.wrap_future(future)


async def subscriptions(stack: Stack) -> list[Subscription]:
    async with stack.db() as session:
        return list(await session.scalars(select(Subscription)))


async def test_the_success_page_syncs_signs_in_and_clears_the_cache(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    success = await stack.subscribe(ada)
    session_id = re.search(r"session_id=([^&]+)", success).group(1)  # type: ignore[union-attr]
    assert (await cached(stack, "checkout", session_id))["user_id"] == (await stack.me(ada))["id"]

    async with stack.browser() as browser:
        page = await browser.get(success)
        assert page.status_code == 200, page.text
        assert "/api/payments/checkout/" in page.text and session_id in page.text
        assert "billhook_session" in browser.cookies
        status = await browser.get(f"/api/payments/checkout/{session_id}/status")
        account = await browser.get("/api/me")
    assert status.status_code == 200 and status.json()["entitlement_active"] is True
    assert account.json()["email"] == "ada@example.com" and account.json()["role"] == "premium"
    assert await cached(stack, "checkout", session_id) is None


async def test_the_success_page_works_before_the_webhook_arrives(stack: Stack) -> None:
    await stack.hold_webhooks()
    ada = await stack.register("ada@example.com")
    success = await stack.subscribe(ada)

    async with stack.browser() as browser:
        assert (await browser.get(success)).status_code == 200

    assert (await stack.me(ada))["role"] == "premium"
    async with stack.db() as session:
        delivered = list(await session.scalars(select(InboxEvent.type)))
        entries = list(
            await session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "subscription.synced"))
        )
    assert "checkout.session.completed" not in delivered
    assert entries and all(actor.startswith("user:") for actor in entries)
    assert [row.status for row in await subscriptions(stack)] == ["trialing"]


async def test_a_missing_forged_or_foreign_token_changes_nothing(stack: Stack) -> None:
    await stack.hold_webhooks()
    ada, bob = await stack.register("ada@example.com"), await stack.register("bob@example.com")
    success = await stack.subscribe(ada)
    bobs = await stack.subscribe(bob, product_id="enterprise_sub")
    ada_session = re.search(r"session_id=([^&]+)", success).group(1)  # type: ignore[union-attr]
    bob_token = re.search(r"token=([^&]+)", bobs).group(1)  # type: ignore[union-attr]
    token = re.search(r"token=([^&]+)", success).group(1)  # type: ignore[union-attr]
    attempts = [
        f"/payment/success?session_id={ada_session}",
        f"/payment/success?session_id={ada_session}&token=forged.token.value",
        f"/payment/success?session_id={ada_session}&token={token[:-2]}xx",
        f"/payment/success?session_id={ada_session}&token={bob_token}",
        f"/payment/success?token={token}",
    ]
    async with stack.browser() as browser:
        for path in attempts:
            page = await browser.get(path)
            assert page.status_code == 400, (path, page.text)
            assert "not valid" in page.text
        assert "billhook_session" not in browser.cookies
    assert await subscriptions(stack) == []
    assert ((await stack.me(ada))["role"], (await stack.me(bob))["role"]) == ("free", "free")


async def test_the_cancel_page_says_nothing_was_charged(stack: Stack) -> None:
    page = await stack.http.get("/payment/cancel")
    assert page.status_code == 200 and "not charged" in page.text


async def test_a_one_time_purchase_is_recorded_only_when_the_amount_matches(stack: Stack) -> None:
    await stack.hold_webhooks()
    ada = await stack.register("ada@example.com")
    checkout = (await stack.checkout(ada, product_id="starter")).json()
    async with stack.db() as session:  # the order says something other than what will be paid
        await session.execute(update(Order).where(Order.id == checkout["order_id"]).values(amount_total=1))
        await session.commit()
    paid = await stack.pay(checkout["url"])

    async with stack.browser() as browser:
        assert (await browser.get(paid.headers["location"].removeprefix(stack.root))).status_code == 200

    async with stack.db() as session:
        jobs = list(await session.scalars(select(OutboxJob.key).where(OutboxJob.type == "order.record_paid")))
        mismatch = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "order.amount_mismatch")
        )
    assert jobs == []
    assert mismatch is not None and "4900 usd" in (mismatch.message or "")


async def test_a_matching_one_time_purchase_is_recorded_from_the_redirect(stack: Stack) -> None:
    await stack.hold_webhooks()
    ada = await stack.register("ada@example.com")
    checkout = (await stack.checkout(ada, product_id="starter")).json()
    paid = await stack.pay(checkout["url"])
    async with stack.browser() as browser:
        assert (await browser.get(paid.headers["location"].removeprefix(stack.root))).status_code == 200
    async with stack.db() as session:
        jobs = list(await session.scalars(select(OutboxJob.key).where(OutboxJob.type == "order.record_paid")))
    assert jobs == [f"order:{checkout['session_id']}"]


async def signed_in_browser(stack: Stack, who: Customer) -> tuple[httpx.AsyncClient, str]:
    browser = stack.browser()
    login = await browser.post("/api/auth/login", json={"email": who.email, "password": PASSWORD})
    browser.cookies.set("billhook_session", login.json()["access_token"])
    pricing = await browser.get("/pricing")
    match = CSRF.search(pricing.text)
    assert match is not None, pricing.text
    return browser, match.group(1)


async def test_the_pricing_form_redirects_to_the_hosted_page(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    browser, csrf = await signed_in_browser(stack, ada)
    try:
        refused = await browser.post("/checkout/start", data={"product_id": "starter"})
        started = await browser.post("/checkout/start", data={"product_id": "starter", "csrf_token": csrf})
        unknown = await browser.post("/checkout/start", data={"product_id": "nope", "csrf_token": csrf})
    finally:
        await browser.aclose()
    assert refused.status_code == 403
    assert started.status_code == 303 and started.headers["location"].startswith(
        f"{stack.api_base}/checkout/"
    )
    assert unknown.status_code == 422 and "not an active product" in unknown.text


async def test_the_pricing_form_sends_strangers_to_sign_up(stack: Stack) -> None:
    async with stack.browser() as browser:
        pricing = await browser.get("/pricing")
        csrf = CSRF.search(pricing.text)
        assert csrf is not None
        response = await browser.post(
            "/checkout/start", data={"product_id": "starter", "csrf_token": csrf.group(1)}
        )
    assert response.status_code == 303 and response.headers["location"].startswith("/signup")

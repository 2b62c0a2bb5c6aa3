"""``/api/subscription`` and ``/api/payments/portal`` against the sandbox served for real."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from billhook.models import AuditEntry, CancellationRecord, Price, Product
from tests.support.stack import Stack
from tests.support.subscriptions import overview, post, subscribed


async def test_the_overview_shows_plan_period_trial_card_and_upcoming_invoice(stack: Stack) -> None:
    nobody = await stack.register("nobody@example.com")
    assert await overview(stack, nobody) == {"has_subscription": False}
    ada = await subscribed(stack)

    body = await overview(stack, ada)

    assert (body["plan"], body["plan_name"], body["status"]) == ("premium_sub", "Premium", "trialing")
    assert body["cancel_at_period_end"] is False
    assert body["trial_end"] is not None and body["current_period_end"] is not None
    assert body["card"] == {"brand": "visa", "last4": "4242"}
    assert (body["upcoming_invoice"]["amount_due"], body["upcoming_invoice"]["currency"]) == (2900, "usd")


async def test_the_overview_is_cached_then_refreshed_in_the_background(stack: Stack) -> None:
    ada = await subscribed(stack)
    await stack.settled()  # a late webhook would invalidate the cache this test watches
    first = await overview(stack, ada)
    async with stack.db() as session:  # a change the cache does not know about (webhooks leave products be)
        await session.execute(update(Product).where(Product.id == "premium_sub").values(name="Premium Plus"))
        await session.commit()
    assert await overview(stack, ada) == first  # served from the cache

    stack.clock.offset = timedelta(minutes=3)
    assert await overview(stack, ada) == first  # stale: still served, refreshed behind the response

    async def refreshed() -> bool:
        return bool((await overview(stack, ada))["plan_name"] == "Premium Plus")

    await stack.eventually(refreshed, timeout=5)


async def test_cancel_at_period_end_is_recorded_once_and_invalidates_the_cache(stack: Stack) -> None:
    ada = await subscribed(stack)
    assert (await overview(stack, ada))["cancel_at_period_end"] is False

    first = await post(stack, ada, "/api/subscription/cancel", reason="too expensive")
    again = await post(stack, ada, "/api/subscription/cancel", reason="too expensive")

    assert first.status_code == 200 and first.json()["cancel_at_period_end"] is True
    assert again.status_code == 200 and again.json() == first.json()
    assert (await overview(stack, ada))["cancel_at_period_end"] is True
    provider = await stack.provider.get_subscription(first.json()["id"])
    assert provider.cancel_at_period_end is True
    async with stack.db() as session:
        records = list(await session.scalars(select(CancellationRecord)))
        audits = await session.scalar(
            select(func.count()).where(AuditEntry.action == "subscription.cancel_requested")
        )
    assert [(r.reason, r.at_period_end, r.requested_by.startswith("user:")) for r in records] == [
        ("too expensive", True, True)
    ]
    assert audits == 1


async def test_resume_undoes_the_cancellation(stack: Stack) -> None:
    ada = await subscribed(stack)
    await post(stack, ada, "/api/subscription/cancel")

    resumed = await post(stack, ada, "/api/subscription/resume")
    again = await post(stack, ada, "/api/subscription/resume")

    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False
    assert again.json() == resumed.json()
    assert (await stack.provider.get_subscription(resumed.json()["id"])).cancel_at_period_end is False
    async with stack.db() as session:
        record = await session.scalar(select(CancellationRecord))
    assert record is not None and record.resumed_at is not None
    assert (await post(stack, ada, "/api/subscription/cancel")).json()["cancel_at_period_end"] is True


async def test_change_plan_previews_without_changing_then_applies(stack: Stack) -> None:
    ada = await subscribed(stack, product_id="enterprise_sub")

    preview = await post(stack, ada, "/api/subscription/change-plan", product_id="premium_sub", preview=True)

    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["applied"] is False and shown["currency"] == "usd"
    assert shown["lines"] and shown["amount_due"] == sum(line["amount"] for line in shown["lines"])
    assert all(line["proration"] for line in shown["lines"])
    assert (await overview(stack, ada))["plan"] == "enterprise_sub"

    applied = await post(stack, ada, "/api/subscription/change-plan", product_id="premium_sub")

    assert applied.status_code == 200 and applied.json()["applied"] is True
    assert (await overview(stack, ada))["plan"] == "premium_sub"
    assert (await stack.me(ada))["role"] == "premium"
    same = await post(stack, ada, "/api/subscription/change-plan", product_id="premium_sub")
    assert same.status_code == 409


async def test_change_plan_refuses_what_is_not_a_plan(stack: Stack) -> None:
    ada = await subscribed(stack)
    for product_id in ("starter", "nope"):
        response = await post(stack, ada, "/api/subscription/change-plan", product_id=product_id)
        assert response.status_code == 422 and "product_id" in response.json()["error"]["message"]
    missing = await post(stack, ada, "/api/subscription/change-plan")
    assert missing.status_code == 422


async def test_a_provider_refusal_is_a_502_with_its_message(stack: Stack) -> None:
    ada = await subscribed(stack)
    async with stack.db() as session:  # point the plan at a one-time price: the provider refuses
        starter = await session.scalar(
            select(Price.stripe_id).where(Price.lookup_key == "billhook:starter:usd:v1")
        )
        await session.execute(
            update(Price).where(Price.lookup_key == "billhook:starter:usd:v1").values(stripe_id=None)
        )
        await session.execute(
            update(Price)
            .where(Price.lookup_key == "billhook:enterprise_sub:usd:v1")
            .values(stripe_id=starter)
        )
        await session.commit()

    response = await post(stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub")

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "provider_error" and "recurring" in error["message"].lower()


async def test_retry_payment_without_an_open_invoice_is_a_conflict(stack: Stack) -> None:
    ada = await subscribed(stack)
    response = await post(stack, ada, "/api/subscription/retry-payment")
    assert response.status_code == 409 and "no unpaid invoice" in response.json()["error"]["message"]


async def test_the_portal_url_is_the_providers(stack: Stack) -> None:
    ada = await subscribed(stack)
    response = await post(stack, ada, "/api/payments/portal")
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith(f"{stack.api_base}/portal/")
    page = await stack.http.get(response.json()["url"])
    assert page.status_code == 200
    bad = await post(stack, ada, "/api/payments/portal", return_url="https://evil.example/")
    assert bad.status_code == 422


async def test_without_a_subscription_every_action_is_404(stack: Stack) -> None:
    bob = await stack.register("bob@example.com")
    for path, body in [
        ("/api/subscription/cancel", {}),
        ("/api/subscription/resume", {}),
        ("/api/subscription/change-plan", {"product_id": "premium_sub"}),
        ("/api/subscription/retry-payment", {}),
        ("/api/payments/portal", {}),
    ]:
        response = await post(stack, bob, path, **body)
        assert response.status_code == 404, (path, response.text)


async def test_another_users_subscription_is_404(stack: Stack) -> None:
    ada = await subscribed(stack)
    bob = await subscribed(stack, "bob@example.com", "enterprise_sub")
    adas = (await overview(stack, ada))["subscription_id"]
    for path, body in [
        ("/api/subscription/cancel", {"subscription_id": adas}),
        ("/api/subscription/resume", {"subscription_id": adas}),
        ("/api/subscription/change-plan", {"subscription_id": adas, "product_id": "starter"}),
        ("/api/subscription/retry-payment", {"subscription_id": adas}),
    ]:
        response = await post(stack, bob, path, **body)
        assert response.status_code == 404, (path, response.text)
    assert (await stack.provider.get_subscription(adas)).cancel_at_period_end is False
    assert (await post(stack, ada, "/api/subscription/cancel", subscription_id=adas)).status_code == 200


async def test_anonymous_callers_are_401(stack: Stack) -> None:
    assert (await stack.http.get("/api/subscription")).status_code == 401
    for path in ("/api/subscription/cancel", "/api/payments/portal"):
        assert (await stack.http.post(path, json={})).status_code == 401

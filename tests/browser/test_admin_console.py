"""Issue 16's "Done when", in real Chromium against the whole stack (sandbox, workers, webhooks).

A scenario is built through the sandbox: monthly plans (enterprise $99, premium $29 with a 7-day
trial) and a yearly one (domain registration, $15 a year), a trial that converts and one still
running, a plan upgrade, a cancellation at period end followed by a clock advance, and a renewal
that fails and is paid later with a new card. The admin signs in, and the overview shows exactly
the figures worked out by hand below; the same figures come from ``GET /api/admin/metrics``, its
CSV and ``billhook analytics``. A customer page says why a user has access, a dead job is retried
from the operations page, a customer account gets 404 at /admin, and every console page fits a
375 px wide screen without sideways scrolling.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select, update

from billhook.kit.formatting import format_money
from billhook.kit.ids import new_id
from billhook.models import OutboxJob, Price, Subscription, User
from billhook.providers.actions import CheckoutRequest
from tests.support.browser import ARTIFACTS, chromium, needs_chromium
from tests.support.stack import PASSWORD, Customer, Stack
from tests.support.subscriptions import save_new_card, status_becomes

# The catalog (billhook.toml), in cents.
ENTERPRISE, PREMIUM, DOMAIN_YEAR = 9900, 2900, 1500
DOMAIN_MONTH = DOMAIN_YEAR // 12  # a yearly price is normalised to a month: $15/yr is $1.25 of MRR

# Worked out by hand from the scenario (all usd, one period covering all of it):
# paying at the end: ann (enterprise), bob (premium, trial converted), cat (upgraded to enterprise),
# eve (enterprise, renewal recovered), fay (domain, yearly); dan churned; gil is in trial.
EXPECTED_MRR = ENTERPRISE + PREMIUM + ENTERPRISE + ENTERPRISE + DOMAIN_MONTH  # 32725
NEW = ENTERPRISE * 3 + DOMAIN_MONTH + PREMIUM * 2  # ann, dan, eve, fay at once; bob and cat at trial end
EXPANSION = ENTERPRISE - PREMIUM  # cat's upgrade
CHURN = -ENTERPRISE  # dan's cancellation at period end, effective when the period ended
EXPECTED = {
    "mrr": format_money(EXPECTED_MRR, "usd"),
    "arr": format_money(EXPECTED_MRR * 12, "usd"),
    "committed-mrr": format_money(EXPECTED_MRR, "usd"),  # nothing is scheduled to cancel any more
    "scheduled-churn-mrr": format_money(0, "usd"),
    "trial-mrr": format_money(PREMIUM, "usd"),  # gil, excluded from MRR
    "arpu": format_money(round(EXPECTED_MRR / 5), "usd"),  # five paying customers
    "active-subscriptions": "5",
    "trialing-subscriptions": "1",
    "paying-customers": "5",
    "movement-new": format_money(NEW, "usd"),
    "movement-expansion": format_money(EXPANSION, "usd"),
    "movement-contraction": format_money(0, "usd"),
    "movement-churn": format_money(CHURN, "usd"),
    "movement-reactivation": format_money(0, "usd"),
    "movement-net-new": format_money(NEW + EXPANSION + CHURN, "usd"),
    # Nobody paid at the start of the period, so the rates over it are undefined, not zero; dan
    # joined and left within it, so he is not counted as a churned customer either.
    "customer-churn-rate": "—",
    "gross-revenue-churn-rate": "—",
    "net-revenue-retention": "—",
    "failed-invoices": "1",  # eve's renewal
    "recovered-invoices": "1",
    "recovery-rate": "100.0 %",
    "recovery-amount-rate": "100.0 %",
    "failed-amount": format_money(ENTERPRISE, "usd"),
}


async def shot(page: Page, name: str, backend: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"admin-{backend}-{name}.png"), full_page=True)


async def price_id(stack: Stack, product_id: str) -> str:
    async with stack.db() as session:
        found = await session.scalar(
            select(Price.stripe_id).where(Price.product_id == product_id, Price.currency == "usd")
        )
    assert found is not None
    return found


async def subscription_of(stack: Stack, who: Customer) -> Subscription:
    user_id = (await stack.me(who))["id"]
    async with stack.db() as session:
        row = await session.scalar(select(Subscription).where(Subscription.user_id == user_id))
    assert row is not None
    return row


async def buy_domain(stack: Stack) -> None:
    """fay buys a yearly domain registration (a guest checkout, as the fulfilment tests do)."""
    created = await stack.actions.create_checkout_session(
        CheckoutRequest(
            mode="subscription",
            price_id=await price_id(stack, "domain_registration"),
            success_url=f"{stack.root}/payment/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{stack.root}/payment/cancel",
            idempotency_key=new_id("test-domain"),
            customer_email="fay@example.com",
            metadata={"domain": "fay-example.org", "years": "1"},
        )
    )
    paid = await stack.pay(created.url, email="fay@example.com")
    assert paid.status_code == 303, paid.text


async def upgrade(stack: Stack, who: Customer) -> int:
    """cat moves from premium to enterprise through Billhook's API; the prorated difference is
    invoiced at once. Returns what that invoice charged (read back from the sandbox)."""
    changed = await stack.http.post(
        "/api/subscription/change-plan", json={"product_id": "enterprise_sub"}, headers=who.headers
    )
    assert changed.status_code == 200 and changed.json()["applied"] is True, changed.text
    row = await subscription_of(stack, who)
    subscription = await stack.provider.get_subscription(row.stripe_id)
    invoice = await stack.provider.get_invoice(subscription.latest_invoice_id or "")
    assert invoice.status == "paid" and invoice.billing_reason == "subscription_update"
    assert 0 < invoice.amount_paid < EXPANSION
    return invoice.amount_paid


async def build_scenario(stack: Stack) -> dict[str, Any]:
    """The subscriptions, clock advances and payments the figures are worked out from."""
    people = {
        name: await stack.register(f"{name}@example.com") for name in ("ann", "bob", "cat", "dan", "eve")
    }
    await stack.subscribe(people["ann"], "enterprise_sub")
    await stack.subscribe(people["bob"], "premium_sub")
    await stack.subscribe(people["cat"], "premium_sub")
    await stack.subscribe(people["dan"], "enterprise_sub")
    await stack.subscribe(people["eve"], "enterprise_sub", card="4000 0000 0000 0341")  # fails on renewal
    await buy_domain(stack)
    await status_becomes(stack, people["dan"], "active")  # mirrored: Billhook's API can cancel it
    cancel = await stack.http.post("/api/subscription/cancel", json={}, headers=people["dan"].headers)
    assert cancel.status_code == 200 and cancel.json()["cancel_at_period_end"] is True

    await stack.advance(days=10)  # bob's and cat's trials end: both pay $29
    await status_becomes(stack, people["cat"], "active")
    proration = await upgrade(stack, people["cat"])

    await stack.advance(days=21)  # ann renews, dan's period ends, eve's renewal is declined
    await status_becomes(stack, people["dan"], "canceled")
    await status_becomes(stack, people["eve"], "past_due")
    eve = await subscription_of(stack, people["eve"])
    await save_new_card(stack, eve.stripe_id)
    retried = await stack.http.post("/api/subscription/retry-payment", json={}, headers=people["eve"].headers)
    assert retried.status_code == 200, retried.text

    people["gil"] = await stack.register("gil@example.com")
    await stack.subscribe(people["gil"], "premium_sub")  # a trial still running at the end
    await status_becomes(stack, people["gil"], "trialing")
    await stack.settled()
    return {"people": people, "proration": proration}


async def dead_job(stack: Stack, user_email: str) -> str:
    """An entitlements sync that died while (say) the database was away: safe to run again."""
    async with stack.db() as session:
        user_id = await session.scalar(select(User.id).where(User.email == user_email))
        job = OutboxJob(key=new_id("test-dead"), type="entitlements.sync", payload={"user_id": user_id},
                        status="dead", attempts=8, max_attempts=8, last_error="connection refused",
                        finished_at=datetime.now(UTC))  # fmt: skip
        session.add(job)
        await session.commit()
        return job.id


async def make_admin(stack: Stack, email: str) -> Customer:
    admin = await stack.register(email)
    async with stack.db() as session:
        await session.execute(update(User).where(User.email == email).values(role="admin"))
        await session.commit()
    return admin


async def sign_in(browser: Browser, stack: Stack, email: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 375, "height": 800})).new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{stack.root}/admin")
    await page.wait_for_url(f"{stack.root}/login?next=/admin")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def fits_375(page: Page) -> bool:
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    return bool(width <= 375)


async def figures_on(page: Page) -> dict[str, str]:
    return {key: (await page.locator(f"#{key}").inner_text()).strip() for key in EXPECTED}


def period_query(start: datetime, end: datetime) -> dict[str, str]:
    return {"period": "custom", "from": start.isoformat(), "to": end.isoformat(), "interval": "week",
            "currency": "usd"}  # fmt: skip


async def cli_json(stack: Stack, query: dict[str, str]) -> dict[str, Any]:
    """``billhook analytics --json`` in its own process, on the stack's database."""
    env = {
        **os.environ,
        "DATABASE_URL": stack.runtime.settings.database_url,
        "BILLHOOK_AUTO_MIGRATE": "false",
    }
    args = ["--period", "custom", "--from", query["from"], "--to", query["to"], "--interval", "week",
            "--currency", "usd", "--json"]  # fmt: skip
    with tempfile.TemporaryDirectory() as empty:  # no developer .env is read
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "billhook", "analytics", *args,
            cwd=empty, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    body: dict[str, Any] = json.loads(out)
    return body


def assert_api_figures(body: dict[str, Any]) -> None:
    assert body["currency"] == "usd"
    assert (body["mrr"], body["arr"], body["trial_mrr"]) == (EXPECTED_MRR, EXPECTED_MRR * 12, PREMIUM)
    assert (body["active_subscriptions"], body["trialing_subscriptions"]) == (5, 1)
    movements = body["movements"]
    assert (movements["new"], movements["expansion"], movements["churn"]) == (NEW, EXPANSION, CHURN)
    assert movements["net_new"] == NEW + EXPANSION + CHURN
    assert body["series"][-1]["mrr"] == EXPECTED_MRR
    # eve's renewal was declined and paid at the same sandbox-clock time: minutes at most, on the
    # provider's clock (mixing in Billhook's row times made it the clock advance, about 31 days).
    assert 0 <= body["recovery"]["median_seconds_to_recover"] < 3600


@pytest.mark.browser
@needs_chromium
async def test_the_admin_console_shows_the_scenario_figures(stack: Stack, backend: str) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    built = await build_scenario(stack)
    end = datetime.now(UTC) + timedelta(days=32)  # after every sandbox-clock event of the scenario
    query = period_query(start, end)
    job_id = await dead_job(stack, "ann@example.com")
    admin = await make_admin(stack, "root@example.com")

    async with chromium() as browser:
        page = await sign_in(browser, stack, "root@example.com")
        await page.goto(
            f"{stack.root}/admin?{'&'.join(f'{k}={v}' for k, v in query.items())}".replace("+", "%2B")
        )
        await expect(page.locator("#mrr")).to_be_visible()
        await shot(page, "1-overview", backend)
        assert await figures_on(page) == EXPECTED
        assert (await page.locator("#median-time-to-recover").inner_text()).strip().endswith(" min")
        revenue = (
            ENTERPRISE * 2 + PREMIUM * 2 + built["proration"] + ENTERPRISE + ENTERPRISE * 2 + DOMAIN_YEAR
        )
        assert (await page.locator("#revenue-usd td.num").inner_text()) == format_money(revenue, "usd")
        for plan in ("enterprise_sub", "premium_sub"):  # 3 checkouts opened, 3 completed, each
            cells = await page.locator(f"#conversion-{plan} td").all_inner_texts()
            assert cells == [plan, "3", "3", "100.0 %"], cells
        assert await page.locator("#charts svg").count() == 4
        assert await fits_375(page)

        await page.goto(f"{stack.root}/admin/customers?q=ann%40example.com")
        await page.click("#customers-table a")
        await expect(page.locator("#access-role")).to_have_text("enterprise")
        reasons = await page.locator("#reasons-table").inner_text()
        assert "enterprise_sub" in reasons and "active" in reasons
        await shot(page, "2-customer", backend)
        assert await fits_375(page)

        await page.goto(f"{stack.root}/admin/operations")
        await page.check(f"#dead-jobs-table input[value='{job_id}']")
        await page.check("#retry-form input[name=confirm]")
        await page.click("#retry-form button[type=submit]")
        await expect(page.locator("#notice")).to_have_text("Queued 1 dead job(s) again.")
        await shot(page, "3-operations", backend)
        assert await fits_375(page)

        for path in ("/admin/subscriptions", "/admin/payments", "/admin/invoices", "/admin/bookings",
                     "/admin/orders", "/admin/customers"):  # fmt: skip
            await page.goto(f"{stack.root}{path}")
            assert await fits_375(page), path

        customer = await sign_in(browser, stack, "ann@example.com")
        response = await customer.goto(f"{stack.root}/admin")
        assert response is not None and response.status == 404

    async def job_done() -> bool:
        async with stack.db() as session:
            job = await session.get(OutboxJob, job_id)
            return job is not None and job.status == "done"

    await stack.eventually(job_done)

    api = await stack.http.get("/api/admin/metrics", params=query, headers=admin.headers)
    assert api.status_code == 200, api.text
    assert_api_figures(api.json())
    exported = await stack.http.get("/api/admin/metrics.csv", params=query, headers=admin.headers)
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert int(rows[-1]["mrr"]) == EXPECTED_MRR
    assert sum(int(row["new"]) for row in rows) == NEW
    assert_api_figures(await cli_json(stack, query))

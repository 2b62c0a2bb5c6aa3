"""A customer's journeys end to end: hosted checkout posted over HTTP, signed webhooks delivered by
the sandbox to Billhook's receiver, the inbox and outbox workers running, the sandbox clock moved.

No success page is visited unless the journey says so: access must come from the webhooks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from billhook.models import EmailMessage, Order, User
from tests.support.stack import Customer, Stack
from tests.support.subscriptions import post, save_new_card, status_becomes, subscription_status


async def test_subscribe_cancel_at_period_end_and_fall_back_to_free(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "premium_sub")
    await stack.role_becomes(ada, "premium")  # from checkout.session.completed, via the workers

    cancel = await post(stack, ada, "/api/subscription/cancel", reason="moving on")
    assert cancel.status_code == 200 and cancel.json()["cancel_at_period_end"] is True
    await stack.advance(days=3)
    assert (await stack.me(ada))["role"] == "premium"  # paid-for time is kept

    await stack.advance(days=6)  # past the trial's end, which is the period end
    await status_becomes(stack, ada, "canceled")
    await stack.role_becomes(ada, "free")


async def test_a_plan_change_is_prorated_and_charged(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "premium_sub", card="5555 5555 5555 4444")
    await stack.role_becomes(ada, "premium")
    await stack.advance(days=10)  # the trial is over: a paid period is under way
    await status_becomes(stack, ada, "active")

    preview = await post(
        stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub", preview=True
    )
    assert preview.status_code == 200, preview.text
    due = preview.json()["amount_due"]
    assert 0 < due < 9900 and len(preview.json()["lines"]) == 2  # credit for premium, charge for enterprise

    applied = await post(stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub")
    assert applied.status_code == 200 and applied.json()["applied"] is True
    await stack.role_becomes(ada, "enterprise")
    sub_id = (await stack.http.get("/api/subscription", headers=ada.headers)).json()["subscription_id"]
    invoice = await stack.provider.get_invoice(
        (await stack.provider.get_subscription(sub_id)).latest_invoice_id or ""
    )
    assert (invoice.status, invoice.amount_paid, invoice.billing_reason) == (
        "paid",
        due,
        "subscription_update",
    )


async def test_a_failed_renewal_keeps_access_in_grace_until_the_retry_succeeds(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub", card="4000 0000 0000 0341")
    await stack.role_becomes(ada, "enterprise")

    await stack.advance(days=31)  # the renewal charge fails off-session
    await status_becomes(stack, ada, "past_due")
    assert (await stack.me(ada))["role"] == "enterprise"  # within the grace period

    declined = await post(stack, ada, "/api/subscription/retry-payment")
    assert declined.status_code == 402 and declined.json()["error"]["code"] == "card_declined"

    sub_id = (await stack.http.get("/api/subscription", headers=ada.headers)).json()["subscription_id"]
    await save_new_card(stack, sub_id)
    retried = await post(stack, ada, "/api/subscription/retry-payment")
    again = await post(stack, ada, "/api/subscription/retry-payment")

    assert retried.status_code == 200 and retried.json()["status"] == "active", retried.text
    assert again.status_code == 409  # nothing left to pay: the retry happened once
    await status_becomes(stack, ada, "active")
    assert (await stack.me(ada))["role"] == "enterprise"


async def test_a_declined_card_grants_nothing(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    checkout = (await stack.checkout(ada, product_id="enterprise_sub")).json()

    page = await stack.pay(checkout["url"], card="4000 0000 0000 0002")

    assert page.status_code == 402 and "declined" in page.text.lower()  # shown again, still open
    status = await stack.http.get(
        f"/api/payments/checkout/{checkout['session_id']}/status", headers=ada.headers
    )
    assert status.json()["entitlement_active"] is False and status.json()["status"] == "open"
    assert (await stack.me(ada))["role"] == "free"
    assert await subscription_status(stack, ada) is None


async def buy_starter(stack: Stack, who: Customer) -> dict[str, Any]:
    checkout: dict[str, Any] = (await stack.checkout(who, product_id="starter")).json()
    assert checkout["amount"] == 4900
    paid = await stack.pay(checkout["url"])
    assert paid.status_code == 303

    async def active() -> bool:
        path = f"/api/payments/checkout/{checkout['session_id']}/status"
        return bool((await stack.http.get(path, headers=who.headers)).json()["entitlement_active"])

    await stack.eventually(active)
    return checkout


async def test_a_one_time_purchase_is_paid_once_and_entitles(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    checkout = await buy_starter(stack, ada)
    async with stack.db() as session:
        orders = list(await session.execute(select(Order.id, Order.status, Order.amount_total)))
    assert [tuple(row) for row in orders] == [(checkout["order_id"], "paid", 4900)]
    entitlements = await stack.http.get("/api/me/entitlements", headers=ada.headers)
    assert "courses.basic" in entitlements.json()["entitlements"]


async def test_a_one_time_purchase_sets_the_role(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await buy_starter(stack, ada)
    await stack.role_becomes(ada, "starter", timeout=3)


async def test_a_checkout_by_an_unknown_email_creates_one_user_and_one_welcome_email(stack: Stack) -> None:
    """A checkout opened for an email with no account (e.g. from a marketing page)."""
    await stack.chaos(duplicate=True)
    price = await stack.provider.client.v1.prices.list_async({"lookup_keys": ["billhook:premium_sub:usd:v1"]})
    session = await stack.provider.client.v1.checkout.sessions.create_async(
        {
            "mode": "subscription",
            "line_items": [{"price": price.data[0].id, "quantity": 1}],
            "customer_email": "newcomer@example.com",
            "success_url": f"{stack.root}/payment/cancel",
            "cancel_url": f"{stack.root}/payment/cancel",
        }
    )
    assert (await stack.pay(str(session.url), email="newcomer@example.com")).status_code == 303
    # Deliver checkout.session.completed a third time, as a retrying Stripe would.
    events = await stack.provider.list_events(types=["checkout.session.completed"])
    assert (await stack.deliver_again(events.events[0].id)).status_code == 200

    async def one_user_and_email() -> bool:
        async with stack.db() as db:
            users = await db.scalar(select(func.count()).where(User.email == "newcomer@example.com"))
            mails = await db.scalar(
                select(func.count()).where(EmailMessage.to_email == "newcomer@example.com")
            )
        return users == 1 and mails == 1

    await stack.eventually(one_user_and_email)

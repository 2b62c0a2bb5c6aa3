"""Long sandbox clock jumps: every event the sandbox creates reaches Billhook, in order, and the
mirror ends equal to the sandbox (issue #18, problem 2)."""

from __future__ import annotations

from sqlalchemy import func, select

from billhook.models import FulfilmentRecord, Order, Payment, Subscription
from tests.support.stack import Customer, Stack


async def mirrored_status(stack: Stack, who: Customer) -> str | None:
    me = await stack.me(who)
    async with stack.db() as session:
        return await session.scalar(
            select(Subscription.status).where(Subscription.user_id == me["id"]).limit(1)
        )


async def test_a_400_day_advance_past_a_scheduled_cancellation_ends_canceled(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub")
    await stack.role_becomes(ada, "enterprise")
    await stack.advance(days=40)
    await stack.settled()
    cancel = await stack.http.post("/api/subscription/cancel", json={}, headers=ada.headers)
    assert cancel.status_code == 200, cancel.text
    await stack.settled()

    await stack.advance(days=400)
    await stack.settled(timeout=60)

    assert await mirrored_status(stack, ada) == "canceled"
    assert (await stack.me(ada))["role"] == "free"


async def test_a_95_day_advance_mirrors_every_invoice_as_a_payment(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await stack.subscribe(ada, "enterprise_sub")
    await stack.role_becomes(ada, "enterprise")

    await stack.advance(days=95)
    await stack.settled(timeout=60)

    sub_id = (await stack.http.get("/api/subscription", headers=ada.headers)).json()["subscription_id"]
    invoices = await stack.provider.client.v1.invoices.list_async({"subscription": sub_id, "limit": 100})
    paid = [i for i in invoices.data if i.status == "paid"]
    assert len(paid) == 4
    async with stack.db() as session:
        payments = await session.scalar(select(func.count()).select_from(Payment))
        orders = (
            await session.execute(select(Order.type, Order.invoice_stripe_id).where(Order.status == "paid"))
        ).all()
        done = (await session.execute(select(FulfilmentRecord.job_type, FulfilmentRecord.reference))).all()
    assert payments == 4
    assert sorted(t for t, _ in orders) == ["new", *["subscription_renewal"] * 3]
    assert {i for _, i in orders} == {i.id for i in paid}
    renewals = sorted(ref for job, ref in done if job == "fulfilment.subscription_renew")
    assert renewals == sorted(i for t, i in orders if t == "subscription_renewal")  # once each

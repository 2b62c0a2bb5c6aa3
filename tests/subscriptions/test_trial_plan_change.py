"""A plan change during a free trial follows Stripe: the trial goes on and nothing is charged,
unless the caller ends the trial; the preview says which (issue #18, problem 5)."""

from __future__ import annotations

from typing import Any

from tests.support.stack import Customer, Stack
from tests.support.subscriptions import overview, post, subscribed


async def paid_invoices(stack: Stack, subscription_id: str) -> list[Any]:
    found = await stack.provider.client.v1.invoices.list_async({"subscription": subscription_id})
    return [(i.billing_reason, i.amount_paid) for i in found.data if i.status == "paid"]


async def trialing(stack: Stack) -> tuple[Customer, dict[str, Any]]:
    ada = await subscribed(stack, product_id="premium_sub")
    before = await overview(stack, ada)
    assert before["status"] == "trialing"
    return ada, before


async def test_a_plan_change_during_a_trial_keeps_the_trial_and_charges_nothing(stack: Stack) -> None:
    ada, before = await trialing(stack)

    preview = await post(
        stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub", preview=True
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert (shown["amount_due"], shown["trial_continues"]) == (0, True)
    assert shown["trial_end"] == before["trial_end"] and not [x for x in shown["lines"] if x["amount"]]

    applied = await post(stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub")
    assert applied.status_code == 200, applied.text
    assert (applied.json()["status"], applied.json()["trial_continues"]) == ("trialing", True)
    subscription = await stack.provider.get_subscription(before["subscription_id"])
    assert subscription.status == "trialing" and subscription.trial_end is not None
    assert subscription.trial_end.isoformat() == before["trial_end"]
    assert await paid_invoices(stack, before["subscription_id"]) == [("subscription_create", 0)]
    await stack.role_becomes(ada, "enterprise")

    await stack.advance(days=8)  # the trial ends: the first charge is at the new price
    invoices = await paid_invoices(stack, before["subscription_id"])
    assert ("subscription_cycle", 9900) in invoices


async def test_ending_the_trial_with_the_change_charges_the_new_price_now(stack: Stack) -> None:
    ada, before = await trialing(stack)

    preview = await post(
        stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub", preview=True, end_trial=True
    )
    assert (preview.json()["amount_due"], preview.json()["trial_continues"]) == (9900, False)

    applied = await post(
        stack, ada, "/api/subscription/change-plan", product_id="enterprise_sub", end_trial=True
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["trial_continues"] is False
    subscription = await stack.provider.get_subscription(before["subscription_id"])
    assert subscription.status == "active"
    assert sorted(await paid_invoices(stack, before["subscription_id"])) == [
        ("subscription_create", 0),
        ("subscription_cycle", 9900),
    ]

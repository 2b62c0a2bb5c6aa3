"""A domain subscription has no plan to change (issue #18 follow-up).

Without a ``subscription_id`` change-plan takes the plan, else the newest domain subscription
(the choice ``GET /api/subscription`` makes), so a user with domains only would have switched a
domain's yearly renewal into a plan. It is refused with 409, as is naming a domain subscription;
a plan cannot be switched to the domain product either (422). Through the routes and the sandbox.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.subscriptions.test_which_subscription import DOMAIN, PLAN, buy, listed
from tests.support.stack import Customer, Stack


async def change_plan(stack: Stack, who: Customer, **body: Any) -> httpx.Response:
    return await stack.http.post("/api/subscription/change-plan", json=body, headers=who.headers)


async def provider_price(stack: Stack, subscription_id: str) -> str:
    item = (await stack.provider.get_subscription(subscription_id)).first_item
    assert item is not None
    return item.price_id


def refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    for word in words:
        assert word in error["message"], error
    return error


async def test_a_user_with_only_a_domain_has_no_plan_to_change(stack: Stack) -> None:
    who = await stack.register("domain-only-change@example.com")
    await buy(stack, who, DOMAIN, "domain-only-change.example")
    [domain] = await listed(stack, who, 1)
    price_before = await provider_price(stack, domain["subscription_id"])

    for preview in (True, False):
        error = refused(
            await change_plan(stack, who, product_id=PLAN, preview=preview),
            409,
            "no plan subscription to change",
            "buy a plan instead",
        )
        assert error["code"] == "conflict"
    named = await change_plan(stack, who, product_id=PLAN, subscription_id=domain["subscription_id"])
    refused(named, 409, "renews a domain registration")

    # Nothing changed, here or at the provider.
    [after] = await listed(stack, who, 1)
    assert (after["kind"], after["product_id"]) == ("domain", DOMAIN)
    assert await provider_price(stack, domain["subscription_id"]) == price_before


async def test_plan_and_domain_do_not_switch_into_each_other(stack: Stack) -> None:
    who = await stack.register("plan-and-domain-change@example.com")
    await buy(stack, who, PLAN)
    await listed(stack, who, 1)
    await buy(stack, who, DOMAIN, "plan-and-domain-change.example")
    plan, domain = await listed(stack, who, 2)

    refused(await change_plan(stack, who, product_id=DOMAIN), 422, "product_id", "registers a domain")
    named = await change_plan(
        stack, who, product_id="enterprise_sub", subscription_id=domain["subscription_id"]
    )
    refused(named, 409, "renews a domain registration")
    # The plan itself still changes, with or without naming it.
    changed = await change_plan(stack, who, product_id="enterprise_sub", preview=True)
    assert changed.status_code == 200, changed.text
    assert changed.json()["product_id"] == "enterprise_sub"
    assert [i["product_id"] for i in await listed(stack, who, 2)] == [PLAN, DOMAIN]
    assert plan["kind"] == "plan"

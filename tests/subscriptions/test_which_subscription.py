"""Which subscription ``GET /api/subscription`` shows (issue #18): the plan, whichever of plan and
domain was bought first; with domains only, the newest domain subscription (``kind`` says so).
``GET /api/subscriptions`` lists every live one, the plan first, then the domains."""

from __future__ import annotations

from typing import Any

from tests.support.stack import PASSWORD, Customer, Stack

PLAN = "premium_sub"
DOMAIN = "domain_registration"


async def buy(stack: Stack, who: Customer, product_id: str, domain: str | None = None) -> None:
    body: dict[str, Any] = {"product_id": product_id}
    if domain:
        body["domain"] = domain
    checkout = await stack.checkout(who, **body)
    assert checkout.status_code == 201, checkout.text
    paid = await stack.pay(checkout.json()["url"])
    assert paid.status_code == 303, paid.text


async def listed(stack: Stack, who: Customer, count: int) -> list[dict[str, Any]]:
    """The list, once it holds ``count`` subscriptions, each paid (or trialing)."""

    async def check() -> list[dict[str, Any]] | None:
        response = await stack.http.get("/api/subscriptions", headers=who.headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        settled = all(item["status"] in ("active", "trialing") for item in items)
        return items if len(items) == count and settled else None

    return await stack.eventually(check)


async def overview_shows(stack: Stack, who: Customer, subscription_id: str) -> dict[str, Any]:
    """The overview, once it names ``subscription_id`` (each purchase invalidates the cached one)."""

    async def check() -> dict[str, Any] | None:
        response = await stack.http.get("/api/subscription", headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body.get("subscription_id") == subscription_id else None

    return await stack.eventually(check)


async def account_page(stack: Stack, who: Customer) -> str:
    async with stack.browser() as browser:
        login = await browser.post("/api/auth/login", json={"email": who.email, "password": PASSWORD})
        browser.cookies.set("billhook_session", login.json()["access_token"])
        page = await browser.get("/account")
    assert page.status_code == 200, page.text
    return page.text


async def test_the_plan_is_the_subscription_whichever_was_bought_first(stack: Stack) -> None:
    plan_first = await stack.register("plan-first@example.com")
    await buy(stack, plan_first, PLAN)
    await listed(stack, plan_first, 1)
    await buy(stack, plan_first, DOMAIN, "plan-first.example")

    domain_first = await stack.register("domain-first@example.com")
    await buy(stack, domain_first, DOMAIN, "domain-first.example")
    await listed(stack, domain_first, 1)
    await buy(stack, domain_first, PLAN)

    for who, name in ((plan_first, "plan-first.example"), (domain_first, "domain-first.example")):
        items = await listed(stack, who, 2)
        assert [(i["kind"], i["product_id"], i["domain"]) for i in items] == [
            ("plan", PLAN, None),
            ("domain", DOMAIN, name),
        ]
        overview = await overview_shows(stack, who, items[0]["subscription_id"])
        assert (overview["kind"], overview["plan"], overview["domain"]) == ("plan", PLAN, None)
        assert overview["plan_name"] == "Premium" and overview["status"] == "trialing"
        page = await account_page(stack, who)
        assert 'id="subscription-domain"' not in page
        # the plans to switch to: the other plan, never the domain product
        assert f'value="{DOMAIN}"' not in page and 'value="enterprise_sub"' in page


async def test_with_only_a_domain_the_subscription_is_that_domain(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    await buy(stack, ada, DOMAIN, "ada-lovelace.example")
    [item] = await listed(stack, ada, 1)
    assert (item["kind"], item["domain"], item["status"]) == ("domain", "ada-lovelace.example", "active")
    overview = await overview_shows(stack, ada, item["subscription_id"])
    assert overview["has_subscription"] is True
    assert (overview["kind"], overview["plan"], overview["domain"]) == (
        "domain",
        DOMAIN,
        "ada-lovelace.example",
    )
    page = await account_page(stack, ada)
    assert '<dd id="subscription-domain">ada-lovelace.example</dd>' in page
    assert 'action="/account/subscription/change-plan"' not in page  # a domain is not a plan


async def test_without_a_subscription_the_list_is_empty(stack: Stack) -> None:
    grace = await stack.register("grace@example.com")
    assert (await stack.http.get("/api/subscriptions", headers=grace.headers)).json() == {"items": []}
    assert (await stack.http.get("/api/subscription", headers=grace.headers)).json() == {
        "has_subscription": False
    }
    assert (await stack.http.get("/api/subscriptions")).status_code == 401

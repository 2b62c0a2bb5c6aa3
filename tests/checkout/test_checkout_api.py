"""``POST /api/payments/checkout`` and its status endpoint, against the sandbox served for real."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select, update

from billhook.errors import ProviderError
from billhook.models import CheckoutSession, Order, Price, Product
from billhook.providers.actions import CheckoutRequest
from tests.support.stack import Stack


async def count(stack: Stack, model: type[CheckoutSession] | type[Order]) -> int:
    async with stack.db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_session_carries_user_product_and_order_ids(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    response = await stack.checkout(ada, product_id="premium_sub", currency="eur")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == body["checkout_url"] and body["url"].startswith(f"{stack.api_base}/checkout/")
    assert (body["amount"], body["currency"]) == (2700, "eur")
    provider = await stack.provider.get_checkout_session(body["session_id"])
    me = await stack.me(ada)
    assert provider.metadata == {
        "user_id": me["id"],
        "product_id": "premium_sub",
        "order_id": body["order_id"],
    }
    assert provider.client_reference_id == me["id"] and provider.mode == "subscription"
    raw_success = provider.raw["success_url"]
    assert raw_success.startswith(f"{stack.root}/payment/success?session_id={{CHECKOUT_SESSION_ID}}&token=")
    async with stack.db() as session:
        order = await session.get(Order, body["order_id"])
        row = await session.scalar(
            select(CheckoutSession).where(CheckoutSession.stripe_id == body["session_id"])
        )
    assert order is not None and (order.status, order.amount_total, order.currency) == (
        "pending",
        2700,
        "eur",
    )
    assert order.checkout_session_stripe_id == body["session_id"]
    assert row is not None and (row.user_id, row.order_id, row.status) == (me["id"], order.id, "open")


async def test_an_open_session_is_reused_not_duplicated(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    first = await stack.checkout(ada, product_id="starter")
    again = await stack.checkout(ada, product_id="starter")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["session_id"] == first.json()["session_id"] and again.json()["reused"] is True
    assert await count(stack, CheckoutSession) == 1
    assert await count(stack, Order) == 1


async def test_a_double_click_opens_one_session(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    responses = await asyncio.gather(*(stack.checkout(ada, product_id="starter") for _ in range(3)))

    assert sorted(r.status_code for r in responses) == [200, 200, 201], [r.text for r in responses]
    assert len({r.json()["session_id"] for r in responses}) == 1
    assert await count(stack, CheckoutSession) == 1
    assert await count(stack, Order) == 1


async def test_a_session_completed_elsewhere_is_not_reused(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    first = (await stack.checkout(ada, product_id="starter")).json()
    assert (await stack.pay(first["url"])).status_code == 303

    second = await stack.checkout(ada, product_id="starter")

    assert second.status_code == 201 and second.json()["session_id"] != first["session_id"]


async def test_unknown_inactive_or_ambiguous_products_are_refused(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    async with stack.db() as session:
        await session.execute(update(Product).where(Product.id == "pro").values(active=False))
        eur = await session.scalar(select(Price.id).where(Price.lookup_key == "billhook:starter:eur:v1"))
        await session.execute(update(Price).where(Price.id == eur).values(active=False))
        await session.commit()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"product_id": "nope"}, "product_id"),
        ({"product_id": "pro"}, "product_id"),
        ({"price_id": "price_missing"}, "price_id"),
        ({"price_id": eur}, "price_id"),
        ({"product_id": "starter", "currency": "jpy"}, "currency"),
        ({"product_id": "starter", "price_id": "x"}, "product_id"),
        ({}, "product_id"),
        ({"product_id": "starter", "quantity": 0}, "quantity"),
        ({"product_id": "starter", "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        response = await stack.checkout(ada, **body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_error"
        assert field in response.json()["error"]["message"], (body, response.text)
    assert await count(stack, CheckoutSession) == 0
    assert await count(stack, Order) == 0


async def test_a_price_can_be_named_by_id_or_lookup_key(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    by_key = await stack.checkout(ada, price_id="billhook:starter:eur:v1")
    assert by_key.status_code == 201, by_key.text
    assert (by_key.json()["amount"], by_key.json()["currency"]) == (4500, "eur")


async def test_redirects_outside_the_allowed_origins_are_refused(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    for field, url in [
        ("success_url", "https://evil.example/done"),
        ("cancel_url", "https://evil.example/back"),
        ("success_url", "javascript:alert(1)"),
        ("success_url", f"{stack.root}.evil.example/x"),
    ]:
        response = await stack.checkout(ada, product_id="starter", **{field: url})
        assert response.status_code == 422, response.text
        assert field in response.json()["error"]["message"]
    allowed = await stack.checkout(ada, product_id="starter", success_url=f"{stack.root}/thanks?from=x")
    assert allowed.status_code == 201, allowed.text
    provider = await stack.provider.get_checkout_session(allowed.json()["session_id"])
    assert provider.raw["success_url"].startswith(
        f"{stack.root}/thanks?from=x&session_id={{CHECKOUT_SESSION_ID}}"
    )


async def test_checkout_needs_a_signed_in_user(stack: Stack) -> None:
    response = await stack.http.post("/api/payments/checkout", json={"product_id": "starter"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_a_cookie_session_needs_the_csrf_header(stack: Stack) -> None:
    await stack.register("ada@example.com")
    async with stack.browser() as browser:
        login = await browser.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": "correct horse battery"}
        )
        assert login.status_code == 200
        browser.cookies.set("billhook_session", login.json()["access_token"])
        response = await browser.post("/api/payments/checkout", json={"product_id": "starter"})
    assert response.status_code == 403, response.text


async def test_subscribing_twice_to_the_plan_is_a_conflict_with_the_subscription(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    success = await stack.subscribe(ada)
    async with stack.browser() as browser:
        assert (await browser.get(success)).status_code == 200

    response = await stack.checkout(ada, product_id="premium_sub")

    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["subscription"]["product_id"] == "premium_sub"
    assert error["subscription"]["status"] == "trialing"
    other = await stack.checkout(ada, product_id="enterprise_sub")
    assert other.status_code == 409 and "change" in other.json()["error"]["message"]


async def test_status_is_visible_to_its_owner_only(stack: Stack) -> None:
    ada, bob = await stack.register("ada@example.com"), await stack.register("bob@example.com")
    session_id = (await stack.checkout(ada, product_id="starter")).json()["session_id"]

    own = await stack.http.get(f"/api/payments/checkout/{session_id}/status", headers=ada.headers)
    foreign = await stack.http.get(f"/api/payments/checkout/{session_id}/status", headers=bob.headers)
    unknown = await stack.http.get("/api/payments/checkout/cs_nope/status", headers=ada.headers)

    assert own.status_code == 200 and own.json()["status"] == "open"
    assert own.json()["entitlement_active"] is False
    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert foreign.json() == unknown.json()


async def test_a_failed_checkout_releases_its_claim_so_a_retry_opens_one(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await stack.register("ada@example.com")
    actions = stack.runtime.actions
    assert actions is not None
    opened = actions.create_checkout_session
    attempts: list[CheckoutRequest] = []

    async def down_once(request: CheckoutRequest) -> Any:
        attempts.append(request)
        if len(attempts) == 1:
            raise ProviderError("the payment provider is unavailable")
        return await opened(request)

    monkeypatch.setattr(actions, "create_checkout_session", down_once)
    failed = await stack.checkout(ada, product_id="starter")
    assert failed.status_code == 502

    started = time.monotonic()
    retry = await stack.checkout(ada, product_id="starter")
    assert retry.status_code == 201, retry.text  # not a 409 "being opened already" for 10 s
    assert time.monotonic() - started < 2
    assert await count(stack, CheckoutSession) == 1

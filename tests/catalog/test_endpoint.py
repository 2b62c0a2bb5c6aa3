"""GET /api/products lists the active catalog with display prices."""

from __future__ import annotations

from billhook.models import Product
from tests.support.app_harness import Harness


async def test_products_lists_the_example_catalog(h: Harness) -> None:
    response = await h.client.get("/api/products")
    assert response.status_code == 200
    products = {p["id"]: p for p in response.json()["products"]}
    assert list(products)[:4] == ["starter", "pro", "premium_sub", "enterprise_sub"]
    premium = products["premium_sub"]
    assert premium["type"] == "subscription"
    assert premium["interval"] == "month"
    assert premium["interval_count"] == 1
    assert premium["trial_days"] == 7
    assert premium["grants"] == {
        "role": "premium",
        "entitlements": ["courses.basic", "courses.advanced", "support.email"],
    }
    assert premium["prices"][0] == {
        "id": premium["prices"][0]["id"],
        "lookup_key": "billhook:premium_sub:usd:v1",
        "amount": 2900,
        "currency": "usd",
        "display": "$29.00",
    }
    starter = products["starter"]
    assert (starter["type"], starter["interval"], starter["trial_days"]) == ("one_time", None, None)


async def test_products_hides_inactive_products(h: Harness) -> None:
    async with h.runtime.session_factory() as session:
        product = await session.get(Product, "pro")
        assert product is not None
        product.active = False
        await session.commit()
    ids = [p["id"] for p in (await h.client.get("/api/products")).json()["products"]]
    assert "pro" not in ids
    assert "starter" in ids

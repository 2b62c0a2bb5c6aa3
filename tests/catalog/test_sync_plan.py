"""plan_sync: the provider changes needed to match the catalog, computed without a provider."""

from __future__ import annotations

from billhook.catalog import ExistingPrice, ExistingProduct, parse_catalog, plan_sync

CATALOG = parse_catalog(
    """
[[products]]
id = "gold"
name = "Gold"
type = "subscription"
interval = "month"
prices = { usd = 1000, jpy = 1500 }
"""
)
GOLD = ExistingProduct("gold", "Gold")


def price(
    key: str, amount: int, *, currency: str = "usd", active: bool = True, id: str = "price_1"
) -> ExistingPrice:
    return ExistingPrice(id, "gold", currency, amount, lookup_key=key, interval="month", active=active)


def test_an_empty_provider_gets_everything_created() -> None:
    plan = plan_sync(CATALOG, [], [])
    assert [c.product_id for c in plan.create_products] == ["gold"]
    assert [(p.lookup_key, p.unit_amount, p.interval) for p in plan.create_prices] == [
        ("billhook:gold:usd:v1", 1000, "month"),
        ("billhook:gold:jpy:v1", 1500, "month"),
    ]
    assert plan.describe()[0] == "create product gold (Gold)"
    assert "create price billhook:gold:jpy:v1 (1500 jpy every 1 month)" in plan.describe()


def test_a_provider_in_step_needs_nothing() -> None:
    existing = [
        price("billhook:gold:usd:v1", 1000),
        price("billhook:gold:jpy:v1", 1500, currency="jpy", id="p2"),
    ]
    plan = plan_sync(CATALOG, [GOLD], existing)
    assert plan.is_empty
    assert plan.describe() == ["nothing to change"]


def test_changed_terms_create_a_price_that_takes_the_lookup_key() -> None:
    existing = [
        price("billhook:gold:usd:v1", 900),
        price("billhook:gold:jpy:v1", 1500, currency="jpy", id="p2"),
    ]
    plan = plan_sync(CATALOG, [GOLD], existing)
    [created] = plan.create_prices
    assert (created.lookup_key, created.unit_amount, created.transfer_lookup_key) == (
        "billhook:gold:usd:v1",
        1000,
        True,
    )
    assert plan.deactivate_prices == ["price_1"]


def test_renamed_products_are_updated_and_inactive_prices_reactivated() -> None:
    existing = [
        price("billhook:gold:usd:v1", 1000, active=False),
        price("billhook:gold:jpy:v1", 1500, currency="jpy", id="p2"),
    ]
    plan = plan_sync(CATALOG, [ExistingProduct("gold", "Old name")], existing)
    assert [(c.product_id, c.fields) for c in plan.update_products] == [("gold", ("name",))]
    assert plan.reactivate_prices == ["price_1"]
    assert not plan.create_prices


def test_owned_prices_no_longer_listed_are_deactivated_and_others_left_alone() -> None:
    existing = [
        price("billhook:gold:usd:v1", 1000),
        price("billhook:gold:jpy:v1", 1500, currency="jpy", id="p2"),
        price("billhook:gold:eur:v1", 900, currency="eur", id="p_eur"),
        price("dashboard-made", 100, id="p_hand"),
    ]
    plan = plan_sync(CATALOG, [GOLD], existing)
    assert plan.deactivate_prices == ["p_eur"]


def test_an_override_pins_the_first_currency_instead_of_creating_it() -> None:
    plan = plan_sync(CATALOG, [GOLD], [], price_overrides={"gold": "price_env"})
    assert [p.lookup_key for p in plan.create_prices] == ["billhook:gold:jpy:v1"]
    assert plan.pinned == {"billhook:gold:usd:v1": "price_env"}
    assert "use price price_env for billhook:gold:usd:v1 (override)" in plan.describe()


def test_an_inactive_product_gets_its_prices_deactivated() -> None:
    inactive = parse_catalog(
        '[[products]]\nid = "gold"\nname = "Gold"\ntype = "one_time"\nactive = false\n'
        "prices = { usd = 1000 }\n"
    )
    existing = [ExistingPrice("price_1", "gold", "usd", 1000, lookup_key="billhook:gold:usd:v1")]
    plan = plan_sync(inactive, [GOLD], existing)
    assert [(c.product_id, c.fields) for c in plan.update_products] == [("gold", ("active",))]
    assert plan.deactivate_prices == ["price_1"]
    assert not plan.create_prices

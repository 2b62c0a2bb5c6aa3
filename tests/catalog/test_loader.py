"""Loading billhook.toml: the example is valid, mistakes name the product and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from billhook.catalog import CatalogError, load_catalog, lookup_key, parse_catalog
from tests.support.app_harness import EXAMPLE_CATALOG

PRODUCT = """
[[products]]
id = "gold"
name = "Gold"
type = "subscription"
interval = "month"
prices = { usd = 1000 }
"""


def test_the_example_catalog_has_the_seed_products_with_their_terms() -> None:
    catalog = load_catalog(EXAMPLE_CATALOG)
    ids = [p.id for p in catalog.products]
    assert ids[:4] == ["starter", "pro", "premium_sub", "enterprise_sub"]
    premium = catalog.get("premium_sub")
    assert premium is not None
    assert premium.type == "subscription"
    assert premium.interval == "month"
    assert premium.prices["usd"] == 2900
    assert premium.grants.role == "premium"
    assert {p.fulfilment for p in catalog.products} >= {"plan", "domain", "booking"}
    assert catalog.get("starter").type == "one_time"  # type: ignore[union-attr]


def test_rank_follows_file_order_unless_explicit() -> None:
    catalog = parse_catalog(PRODUCT + PRODUCT.replace("gold", "silver") + "rank = 0\n")
    gold, silver = catalog.products
    assert catalog.rank_of(gold) == 1
    assert catalog.rank_of(silver) == 0


def test_lookup_keys_are_deterministic() -> None:
    assert lookup_key("premium_sub", "USD") == "billhook:premium_sub:usd:v1"


def test_currencies_are_lower_cased_and_ordered_as_written() -> None:
    catalog = parse_catalog(PRODUCT.replace("{ usd = 1000 }", "{ EUR = 900, usd = 1000 }"))
    assert catalog.products[0].currencies == ["eur", "usd"]
    assert catalog.products[0].primary_currency == "eur"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("prices = { usd = 1000 }", "prices = { usd = -5 }"),
            "product 'gold': prices.usd: Input should be greater than 0",
        ),
        (("prices = { usd = 1000 }", "prices = { usd = 9.99 }"), "product 'gold': prices: usd = 9.99"),
        (
            ("prices = { usd = 1000 }", "prices = { dollars = 1 }"),
            "product 'gold': prices: 'dollars' is not a three-letter",
        ),
        (("prices = { usd = 1000 }", "prices = {}"), "product 'gold': prices: list at least one price"),
        (('interval = "month"\n', ""), "product 'gold': a subscription needs an interval"),
        (('interval = "month"', 'interval = "fortnight"'), "product 'gold': interval: Input should be"),
        (('type = "subscription"', 'type = "lifetime"'), "product 'gold': type: Input should be"),
        (('name = "Gold"\n', ""), "product 'gold': name: Field required"),
        (('id = "gold"', 'id = "Gold Plan"'), "product 'Gold Plan': id: 'Gold Plan': use lower-case letters"),
        (
            ('name = "Gold"', 'name = "Gold"\nfulfilment = "shipping"'),
            "product 'gold': fulfilment: must be plan",
        ),
        (
            ('name = "Gold"', 'name = "Gold"\ngrants = { role = "admin" }'),
            "product 'gold': grants.role: a product cannot grant",
        ),
        (
            ('name = "Gold"', 'name = "Gold"\ncolour = "gold"'),
            "product 'gold': colour: unknown key; the keys are id, name, description, type, prices",
        ),
    ],
)
def test_mistakes_name_the_product_and_field(change: tuple[str, str], message: str) -> None:
    text = PRODUCT.replace(*change)
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text, source="billhook.toml")
    assert str(raised.value).startswith(f"billhook.toml: {message}"), str(raised.value)


def test_a_one_time_product_with_an_interval_is_refused() -> None:
    text = PRODUCT.replace('type = "subscription"', 'type = "one_time"')
    with pytest.raises(CatalogError, match="a one_time product has no interval"):
        parse_catalog(text)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(CatalogError, match="product id 'gold' is listed twice"):
        parse_catalog(PRODUCT + PRODUCT)


def test_bad_toml_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not valid TOML"):
        parse_catalog("[[products]\nid=")
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        ("usd = 49.00", "usd = 4900 means $49.00"),
        ('usd = "49.00"', "usd = 4900 means $49.00"),
        ('usd = "4900"', "usd = 4900 means $49.00"),
        ("usd = 9.99", "usd = 999 means $9.99"),
        ("jpy = 1200.0", "jpy = 1200 means ¥1,200"),
        ("usd = true", "usd = 4900 means $49.00"),
    ],
)
def test_a_price_that_is_not_an_integer_names_file_product_currency_and_fix(written: str, fix: str) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(PRODUCT.replace("usd = 1000", written), source="billhook.toml")
    message = str(raised.value)
    currency = written.split(" ", maxsplit=1)[0]
    assert message.startswith(f"billhook.toml: product 'gold': prices: {currency} = "), message
    assert message.endswith(fix), message
    assert "\n" not in message


def test_a_currency_stripe_does_not_support_is_refused() -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(PRODUCT.replace("usd = 1000", "xyz = 1000"), source="billhook.toml")
    assert str(raised.value).startswith(
        "billhook.toml: product 'gold': prices: 'xyz' is not a currency Stripe supports"
    )


def test_a_misspelt_key_is_reported_before_the_key_it_hides() -> None:
    with pytest.raises(CatalogError) as raised:
        parse_catalog(PRODUCT.replace("prices =", "prise ="), source="billhook.toml")
    assert str(raised.value).startswith("billhook.toml: product 'gold': prise: unknown key; the keys are")


def test_an_unknown_top_level_table_names_the_key_it_expects() -> None:
    with pytest.raises(CatalogError, match="catalog: product: unknown key; the keys are products"):
        parse_catalog(PRODUCT.replace("[[products]]", "[[product]]"))

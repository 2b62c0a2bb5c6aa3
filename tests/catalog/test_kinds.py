"""One list of item kinds: what the catalog lets a product fulfil is what an order line may be."""

from __future__ import annotations

import pytest

from billhook.catalog import CatalogError, parse_catalog
from billhook.catalog.kinds import ItemKind
from billhook.orders.schemas import OrderItemInput

PRODUCT = """
[[products]]
id = "gold"
name = "Gold"
type = "subscription"
interval = "month"
fulfilment = "{kind}"
prices = {{ usd = 1000 }}
"""
VALUES = [*(kind.value for kind in ItemKind), "custom:ssl_cert", "custom:", "custom:Bad Name", "shipping", ""]


def catalog_accepts(kind: str) -> bool:
    try:
        parse_catalog(PRODUCT.format(kind=kind))
    except CatalogError:
        return False
    return True


def order_accepts(kind: str) -> bool:
    item = OrderItemInput(kind=kind, unit_amount=1, details={"domain": "example.com"})
    return not any(problem.startswith("unknown item kind") for problem in item.problems())


@pytest.mark.parametrize("kind", list(ItemKind))
def test_every_item_kind_can_be_a_products_fulfilment(kind: ItemKind) -> None:
    assert parse_catalog(PRODUCT.format(kind=kind.value)).products[0].fulfilment == kind.value


def test_a_hosting_product_loads_like_a_plan() -> None:
    assert catalog_accepts("hosting") and catalog_accepts("plan")


@pytest.mark.parametrize("kind", VALUES)
def test_the_catalog_and_orders_agree_on_every_kind(kind: str) -> None:
    assert catalog_accepts(kind) == order_accepts(kind)


def test_an_unknown_fulfilment_lists_the_kinds() -> None:
    with pytest.raises(
        CatalogError, match="must be plan, hosting, domain, booking, credits or custom:<name>"
    ):
        parse_catalog(PRODUCT.format(kind="shipping"))

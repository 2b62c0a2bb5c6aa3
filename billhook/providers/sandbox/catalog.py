"""Products and Prices (https://docs.stripe.com/api/products, https://docs.stripe.com/api/prices)."""

from __future__ import annotations

from .errors import InvalidRequest, invalid
from .ids import new_id
from .params import MAX_AMOUNT, Params, merge_metadata
from .store import Doc, Tx, public

INTERVALS = ("day", "week", "month", "year")


async def create_product(tx: Tx, p: Params) -> Doc:
    now = tx.now()
    product: Doc = {
        "id": p.text("id") or new_id("prod", 14),
        "object": "product",
        "active": p.flag("active") is not False,
        "created": now,
        "default_price": None,
        "description": p.text("description"),
        "images": p.texts("images") or [],
        "livemode": False,
        "marketing_features": [{"name": f.require_text("name")} for f in p.each("marketing_features") or []],
        "metadata": p.metadata() or {},
        "name": p.require_text("name"),
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": p.text("statement_descriptor"),
        "tax_code": p.text("tax_code"),
        "type": "service",
        "unit_label": p.text("unit_label"),
        "updated": now,
        "url": p.text("url"),
    }
    if await tx.get(product["id"]) is not None:
        raise invalid("id", f"Product already exists with ID {product['id']}", code="resource_already_exists")
    await tx.put(product)
    await tx.emit("product.created", product)
    default_price = p.sub("default_price_data")
    if default_price is not None:
        price = await _new_price(tx, default_price, product["id"])
        product["default_price"] = price["id"]
        await tx.put(product)
    return product


async def update_product(tx: Tx, product: Doc, p: Params) -> Doc:
    before = public(product)
    for key in ("name", "description", "statement_descriptor", "unit_label", "url", "tax_code"):
        if p.has(key):
            value = p.text(key)
            product[key] = value or None
    if p.has("active"):
        product["active"] = bool(p.flag("active"))
    if p.has("default_price"):
        price_id = p.require_text("default_price")
        price = await tx.load("price", price_id, param="default_price")
        if price["product"] != product["id"]:
            raise invalid("default_price", "The default price must belong to this product.")
        product["default_price"] = price_id
    if p.has("images"):
        product["images"] = p.texts("images") or []
    product["metadata"] = merge_metadata(product["metadata"], p.metadata())
    product["updated"] = tx.now()
    await tx.put(product)
    await tx.emit_update("product.updated", product, before)
    return product


async def delete_product(tx: Tx, product: Doc) -> Doc:
    if await tx.find("price", parent=product["id"]):
        raise InvalidRequest(
            "This product cannot be deleted because it has one or more user-created prices.",
            code="product_has_prices",
        )
    await tx.emit("product.deleted", product)
    product["deleted"] = True
    await tx.put(product)
    return product


async def create_price(tx: Tx, p: Params) -> Doc:
    product_id = p.text("product")
    product_data = p.sub("product_data")
    if product_id is None and product_data is None:
        raise InvalidRequest("Missing required param: product.", code="parameter_missing", param="product")
    if product_id is not None:
        await tx.load("product", product_id, param="product")
    else:
        assert product_data is not None
        product = await create_product(tx, product_data)
        product_id = product["id"]
    return await _new_price(tx, p, product_id)


async def inline_price(tx: Tx, p: Params) -> Doc:
    """A ``price_data`` hash: Stripe makes a one-off, inactive Price for it."""
    product_id = p.text("product")
    product_data = p.sub("product_data")
    if product_id is not None:
        await tx.load("product", product_id, param=p.path("product"))
    elif product_data is not None:
        product_id = (await create_product(tx, product_data))["id"]
    else:
        raise InvalidRequest(
            f"Missing required param: {p.path('product')}.", code="parameter_missing", param=p.path("product")
        )
    price = await _new_price(tx, p, product_id)
    price["active"] = False
    return await tx.put(price)


async def _new_price(tx: Tx, p: Params, product_id: str) -> Doc:
    unit_amount = p.integer("unit_amount", minimum=0, maximum=MAX_AMOUNT)
    decimal = p.text("unit_amount_decimal")
    if unit_amount is None and decimal:
        value = p.number("unit_amount_decimal")
        if value is None or not 0 <= value <= MAX_AMOUNT:  # also refuses nan and inf
            raise invalid(
                "unit_amount_decimal", f"Invalid decimal: {decimal}", code="parameter_invalid_decimal"
            )
        unit_amount = round(value)
    if unit_amount is None:
        raise InvalidRequest(
            f"Missing required param: {p.path('unit_amount')}.",
            code="parameter_missing",
            param=p.path("unit_amount"),
        )
    recurring = _recurring(p.sub("recurring"))
    price: Doc = {
        "id": new_id("price"),
        "object": "price",
        "active": p.flag("active") is not False,
        "billing_scheme": "per_unit",
        "created": tx.now(),
        "currency": p.require_text("currency").lower(),
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": p.metadata() or {},
        "nickname": p.text("nickname"),
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": p.text("tax_behavior", choices=("exclusive", "inclusive", "unspecified"))
        or "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
        "_parent": product_id,
    }
    await _claim_lookup_key(tx, price, p)
    await tx.put(price)
    await tx.emit("price.created", price)
    return price


def _recurring(p: Params | None) -> Doc | None:
    if p is None:
        return None
    count = p.integer("interval_count", minimum=1) or 1
    return {
        "interval": p.require_text("interval", choices=INTERVALS),
        "interval_count": count,
        "meter": None,
        "trial_period_days": p.integer("trial_period_days", minimum=1, maximum=730),
        "usage_type": p.text("usage_type", choices=("licensed",)) or "licensed",
    }


async def _claim_lookup_key(tx: Tx, price: Doc, p: Params) -> None:
    """Lookup keys are unique; ``transfer_lookup_key=true`` moves one from its current price."""
    key = p.text("lookup_key")
    transfer = p.flag("transfer_lookup_key")
    if not key:
        if key == "":
            price["lookup_key"] = None
        return
    for holder in await tx.find("price", lookup=key):
        if holder["id"] == price["id"]:
            continue
        if not transfer:
            raise invalid(
                "lookup_key",
                f"A price ({holder['id']}) already uses that lookup key.",
                code="lookup_key_already_used",
            )
        before = public(holder)
        holder["lookup_key"] = None
        await tx.put(holder)
        await tx.emit_update("price.updated", holder, before)
    price["lookup_key"] = key


async def update_price(tx: Tx, price: Doc, p: Params) -> Doc:
    before = public(price)
    if p.has("active"):
        price["active"] = bool(p.flag("active"))
    if p.has("nickname"):
        price["nickname"] = p.text("nickname") or None
    if p.has("lookup_key"):
        await _claim_lookup_key(tx, price, p)
    else:
        p.flag("transfer_lookup_key")
    price["metadata"] = merge_metadata(price["metadata"], p.metadata())
    await tx.put(price)
    await tx.emit_update("price.updated", price, before)
    return price


async def list_prices(tx: Tx, p: Params) -> list[Doc]:
    lookup_keys = p.texts("lookup_keys")
    if lookup_keys:
        prices = [price for key in lookup_keys for price in await tx.find("price", lookup=key)]
        prices.sort(key=lambda price: price["created"], reverse=True)
    else:
        prices = await tx.find("price")
    active, product = p.flag("active"), p.text("product")
    kind, currency = p.text("type", choices=("one_time", "recurring")), p.text("currency")
    recurring = p.sub("recurring")
    interval = recurring.text("interval", choices=INTERVALS) if recurring else None
    return [
        price
        for price in prices
        if (active is None or price["active"] == active)
        and (product is None or price["product"] == product)
        and (kind is None or price["type"] == kind)
        and (currency is None or price["currency"] == currency.lower())
        and (interval is None or (price["recurring"] or {}).get("interval") == interval)
    ]


async def list_products(tx: Tx, p: Params) -> list[Doc]:
    active, ids = p.flag("active"), p.texts("ids")
    return [
        product
        for product in await tx.find("product")
        if not product.get("deleted")
        and (active is None or product["active"] == active)
        and (ids is None or product["id"] in ids)
    ]

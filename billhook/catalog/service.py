"""Apply the catalog file to the ``products`` and ``prices`` tables, and read the active catalog.

Rows are upserted and deactivated, never deleted: orders, subscriptions and audit entries keep
pointing at what was sold. A price whose terms change (amount, interval) keeps its old row,
inactive and without its lookup key, and gets a new row: provider prices are immutable, so a
new term is a new price (https://docs.stripe.com/products-prices/manage-prices#edit-price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog import repository
from billhook.catalog.schemas import Catalog, CatalogProduct, lookup_key
from billhook.db.locks import hold_until_commit
from billhook.models import Price, Product


@dataclass
class CatalogChanges:
    """What :func:`apply_catalog` did, as readable lines per kind of change."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)


def product_grants(catalog: Catalog, product: CatalogProduct) -> dict[str, Any]:
    """The ``products.grants`` column: role, entitlements and rank, read by entitlements."""
    return {
        "role": product.grants.role,
        "entitlements": list(product.grants.entitlements),
        "rank": catalog.rank_of(product),
    }


async def apply_catalog(
    session: AsyncSession, catalog: Catalog, *, price_overrides: Mapping[str, str] | None = None
) -> CatalogChanges:
    """Upsert products and prices from ``catalog``; deactivate what it no longer lists. Flushes only.

    ``price_overrides`` (``settings.stripe_price_overrides``: product id → provider price id)
    pins the product's first listed currency to an existing provider price.
    """
    # Several processes starting at once apply the same catalog: one at a time, each seeing the
    # rows the one before committed (else both insert the same product and one fails to start).
    await hold_until_commit(session, "catalog")
    changes = CatalogChanges()
    overrides = dict(price_overrides or {})
    products = {p.id: p for p in await repository.all_products(session)}
    prices = {p.lookup_key: p for p in await repository.all_prices(session) if p.lookup_key}
    wanted_keys: set[str] = set()
    for entry in catalog.products:
        _upsert_product(session, catalog, entry, products.get(entry.id), changes)
    await session.flush()  # prices reference products; there is no ORM relationship to order them
    for entry in catalog.products:
        for currency in entry.currencies:
            key = lookup_key(entry.id, currency)
            wanted_keys.add(key)
            stripe_id = overrides.get(entry.id) if currency == entry.primary_currency else None
            await _upsert_price(
                session, entry, currency, prices.get(key), pinned_stripe_id=stripe_id, changes=changes
            )
    listed = {p.id for p in catalog.products}
    for product in products.values():
        if product.id not in listed and product.active:
            product.active = False
            changes.deactivated.append(f"product {product.id}")
    for key, price in prices.items():
        if key not in wanted_keys and price.active:
            price.active = False
            changes.deactivated.append(f"price {key}")
    await session.flush()
    return changes


def _upsert_product(
    session: AsyncSession,
    catalog: Catalog,
    entry: CatalogProduct,
    row: Product | None,
    changes: CatalogChanges,
) -> None:
    values: dict[str, Any] = {
        "name": entry.name,
        "description": entry.description or None,
        "type": entry.type.value,
        "fulfilment": entry.fulfilment,
        "grants": product_grants(catalog, entry),
        "active": entry.active,
        # JSONB does not keep key order: the currency order (first = default) is kept as a list.
        "raw": {**entry.model_dump(mode="json"), "currencies": entry.currencies},
    }
    if row is None:
        session.add(Product(id=entry.id, **values))
        changes.created.append(f"product {entry.id}")
        return
    differing = [name for name, value in values.items() if getattr(row, name) != value]
    for name in differing:
        setattr(row, name, values[name])
    if differing:
        changes.updated.append(f"product {entry.id} ({', '.join(sorted(differing))})")


async def _upsert_price(
    session: AsyncSession,
    entry: CatalogProduct,
    currency: str,
    row: Price | None,
    *,
    pinned_stripe_id: str | None,
    changes: CatalogChanges,
) -> None:
    key = lookup_key(entry.id, currency)
    terms: dict[str, Any] = {
        "unit_amount": entry.prices[currency],
        "interval": entry.interval.value if entry.interval else None,
        "interval_count": entry.interval_count if entry.interval else 1,
    }
    if row is not None and any(getattr(row, name) != value for name, value in terms.items()):
        # New terms, new price: retire the old row (it keeps its provider id for history).
        row.lookup_key = None
        row.active = False
        await session.flush()
        changes.deactivated.append(f"price {key} (old terms)")
        row = None
    if pinned_stripe_id is not None:
        await _release_stripe_id(session, pinned_stripe_id, keep=row)
    if row is None:
        session.add(
            Price(
                product_id=entry.id,
                lookup_key=key,
                currency=currency,
                trial_days=entry.trial_days,
                active=entry.active,
                stripe_id=pinned_stripe_id,
                **terms,
            )
        )
        changes.created.append(f"price {key}")
        return
    wanted: dict[str, Any] = {"trial_days": entry.trial_days, "active": entry.active}
    if pinned_stripe_id is not None:
        wanted["stripe_id"] = pinned_stripe_id
    differing = [name for name, value in wanted.items() if getattr(row, name) != value]
    for name in differing:
        setattr(row, name, wanted[name])
    if differing:
        changes.updated.append(f"price {key} ({', '.join(sorted(differing))})")


async def _release_stripe_id(session: AsyncSession, stripe_id: str, keep: Price | None) -> None:
    """A pinned provider price id moves to the pinned row; ``prices.stripe_id`` is unique."""
    holder = await repository.price_by_stripe_id(session, stripe_id)
    if holder is not None and holder is not keep:
        holder.stripe_id = None
        await session.flush()


async def record_provider_price(session: AsyncSession, key: str, stripe_id: str) -> bool:
    """After ``products sync`` created a provider price, remember its id on our row."""
    prices = {p.lookup_key: p for p in await repository.all_prices(session) if p.lookup_key}
    row = prices.get(key)
    if row is None or row.stripe_id == stripe_id:
        return False
    await _release_stripe_id(session, stripe_id, keep=row)
    row.stripe_id = stripe_id
    await session.flush()
    return True


@dataclass(frozen=True, slots=True)
class ListedPrice:
    id: str
    lookup_key: str | None
    stripe_id: str | None
    currency: str
    unit_amount: int
    interval: str | None
    interval_count: int
    trial_days: int | None


@dataclass(frozen=True, slots=True)
class ListedProduct:
    id: str
    name: str
    description: str | None
    type: str
    fulfilment: str
    role: str | None
    entitlements: tuple[str, ...]
    rank: int
    prices: tuple[ListedPrice, ...]


async def active_catalog(session: AsyncSession) -> list[ListedProduct]:
    """Active products with their active prices, lowest rank first (the order of the file)."""
    products = await repository.active_products(session)
    prices = await repository.active_prices(session, [p.id for p in products])
    by_product: dict[str, list[ListedPrice]] = {}
    for price in prices:
        by_product.setdefault(price.product_id, []).append(
            ListedPrice(
                id=price.id,
                lookup_key=price.lookup_key,
                stripe_id=price.stripe_id,
                currency=price.currency,
                unit_amount=price.unit_amount,
                interval=price.interval,
                interval_count=price.interval_count,
                trial_days=price.trial_days,
            )
        )
    listed = [_listed(product, by_product.get(product.id, [])) for product in products]
    return sorted((p for p in listed if p.prices), key=lambda p: (p.rank, p.id))


def _listed(product: Product, prices: list[ListedPrice]) -> ListedProduct:
    grants = product.grants or {}
    currency_order = list((product.raw or {}).get("currencies", []))
    ordered = sorted(
        prices, key=lambda p: currency_order.index(p.currency) if p.currency in currency_order else 99
    )
    return ListedProduct(
        id=product.id,
        name=product.name,
        description=product.description,
        type=product.type,
        fulfilment=product.fulfilment,
        role=grants.get("role"),
        entitlements=tuple(grants.get("entitlements", ())),
        rank=int(grants.get("rank", 0)),
        prices=tuple(ordered),
    )

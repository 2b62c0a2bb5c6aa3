"""``plan_sync``: what the provider must create, update or deactivate to match the catalog. Pure.

The provider side is the provider-neutral ``ProviderProduct``/``ProviderPrice`` that
``ProviderActions.list_products/list_prices`` return, so the plan can be computed, printed
(``--dry-run``) and tested without a provider. Matching is by product id (catalog ids are used
as provider product ids) and by price ``lookup_key``; only prices whose lookup key starts with
``billhook:`` are ever deactivated, so prices made by hand in the dashboard are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from billhook.catalog.schemas import Catalog, CatalogProduct, lookup_key
from billhook.providers.actions import ProviderPrice, ProviderProduct

OWNED_PREFIX = "billhook:"


# What the provider has: its provider-neutral products and prices, under the names the plan uses.
ExistingProduct = ProviderProduct
ExistingPrice = ProviderPrice


@dataclass(frozen=True, slots=True)
class ProductChange:
    product_id: str
    name: str
    description: str | None
    active: bool
    fields: tuple[str, ...] = ()  # for updates: which fields differ


@dataclass(frozen=True, slots=True)
class PriceToCreate:
    lookup_key: str
    product_id: str
    currency: str
    unit_amount: int
    interval: str | None
    interval_count: int
    # True when an existing price holds the lookup key on old terms: move the key to the new one.
    transfer_lookup_key: bool = False


@dataclass
class SyncPlan:
    create_products: list[ProductChange] = field(default_factory=list)
    update_products: list[ProductChange] = field(default_factory=list)
    create_prices: list[PriceToCreate] = field(default_factory=list)
    reactivate_prices: list[str] = field(default_factory=list)  # provider price ids
    deactivate_prices: list[str] = field(default_factory=list)  # provider price ids
    pinned: dict[str, str] = field(default_factory=dict)  # lookup key -> overriding price id

    @property
    def is_empty(self) -> bool:
        return not (
            self.create_products
            or self.update_products
            or self.create_prices
            or self.reactivate_prices
            or self.deactivate_prices
        )

    def describe(self) -> list[str]:
        """One line per action, in the order they should run (what ``--dry-run`` prints)."""
        lines = [f"create product {c.product_id} ({c.name})" for c in self.create_products]
        lines += [f"update product {c.product_id}: {', '.join(c.fields)}" for c in self.update_products]
        for price in self.create_prices:
            terms = f"{price.unit_amount} {price.currency}"
            if price.interval:
                terms += f" every {price.interval_count} {price.interval}"
            moved = ", moving the lookup key" if price.transfer_lookup_key else ""
            lines.append(f"create price {price.lookup_key} ({terms}{moved})")
        lines += [f"reactivate price {price_id}" for price_id in self.reactivate_prices]
        lines += [f"deactivate price {price_id}" for price_id in self.deactivate_prices]
        lines += [f"use price {price_id} for {key} (override)" for key, price_id in self.pinned.items()]
        return lines or ["nothing to change"]


def plan_sync(
    catalog: Catalog,
    provider_products: Sequence[ExistingProduct],
    provider_prices: Sequence[ExistingPrice],
    *,
    price_overrides: Mapping[str, str] | None = None,
) -> SyncPlan:
    plan = SyncPlan()
    overrides = dict(price_overrides or {})
    products = {p.id: p for p in provider_products}
    by_key = {p.lookup_key: p for p in provider_prices if p.lookup_key}
    for entry in catalog.products:
        _plan_product(plan, entry, products.get(entry.id))
        for currency in entry.currencies:
            key = lookup_key(entry.id, currency)
            if currency == entry.primary_currency and entry.id in overrides:
                plan.pinned[key] = overrides[entry.id]
                continue
            _plan_price(plan, entry, currency, by_key.get(key))
    wanted = {lookup_key(e.id, c) for e in catalog.products if e.active for c in e.currencies} - set(
        plan.pinned
    )
    for price in provider_prices:
        key = price.lookup_key or ""
        if key.startswith(OWNED_PREFIX) and key not in wanted and price.active:
            plan.deactivate_prices.append(price.id)
    return plan


def _plan_product(plan: SyncPlan, entry: CatalogProduct, existing: ExistingProduct | None) -> None:
    description = entry.description or None
    if existing is None:
        plan.create_products.append(ProductChange(entry.id, entry.name, description, entry.active))
        return
    differing = tuple(
        name
        for name, ours, theirs in (
            ("name", entry.name, existing.name),
            ("description", description, existing.description or None),
            ("active", entry.active, existing.active),
        )
        if ours != theirs
    )
    if differing:
        plan.update_products.append(ProductChange(entry.id, entry.name, description, entry.active, differing))


def _plan_price(plan: SyncPlan, entry: CatalogProduct, currency: str, existing: ExistingPrice | None) -> None:
    if not entry.active:
        return  # deactivation of its prices is handled with the other unwanted keys
    interval = entry.interval.value if entry.interval else None
    interval_count = entry.interval_count if interval else 1
    wanted = PriceToCreate(
        lookup_key=lookup_key(entry.id, currency),
        product_id=entry.id,
        currency=currency,
        unit_amount=entry.prices[currency],
        interval=interval,
        interval_count=interval_count,
    )
    if existing is None:
        plan.create_prices.append(wanted)
        return
    same_terms = (
        existing.product_id == entry.id
        and existing.currency.lower() == currency
        and existing.unit_amount == wanted.unit_amount
        and existing.interval == interval
        and (existing.interval_count if interval else 1) == interval_count
    )
    if not same_terms:
        plan.create_prices.append(replace(wanted, transfer_lookup_key=True))
        plan.deactivate_prices.append(existing.id)
    elif not existing.active:
        plan.reactivate_prices.append(existing.id)

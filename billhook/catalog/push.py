"""Pushing the catalog to the provider (``billhook products sync``): make its products and prices
match the catalog, idempotently.

The plan comes from :func:`billhook.catalog.plan_sync` (pure); this carries it out through
:class:`ProviderActions` and records the provider ids on our ``products``/``prices`` rows so
checkout can use them. Every provider call carries an idempotency key derived from what it
creates (product id, lookup key and terms), so a sync interrupted and run again does not create
a second price. Only flushes; the CLI command (or start-up) commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog import Catalog, SyncPlan, apply_catalog, plan_sync
from billhook.catalog.service import record_provider_price
from billhook.catalog.sync import ProductChange
from billhook.models import Product
from billhook.providers.actions import PriceSpec, ProviderActions


@dataclass
class SyncReport:
    plan: SyncPlan
    applied: bool
    recorded: list[str] = field(default_factory=list)  # lookup keys whose provider id we stored

    def lines(self) -> list[str]:
        prefix = "" if self.applied else "would "
        changes = self.plan.describe()
        if self.plan.is_empty:
            return ["nothing to change", *[f"recorded {key}" for key in self.recorded]]
        return [f"{prefix}{line}" for line in changes] + [f"recorded {key}" for key in self.recorded]


async def current_plan(
    actions: ProviderActions, catalog: Catalog, price_overrides: Mapping[str, str] | None = None
) -> SyncPlan:
    products, prices = await actions.list_products(), await actions.list_prices()
    return plan_sync(catalog, products, prices, price_overrides=price_overrides)


async def sync_products(
    session: AsyncSession,
    actions: ProviderActions,
    catalog: Catalog,
    *,
    price_overrides: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> SyncReport:
    """Plan, then (unless ``dry_run``) apply the plan and record every catalog price's provider id."""
    plan = await current_plan(actions, catalog, price_overrides)
    if dry_run:
        return SyncReport(plan, applied=False)
    await apply_catalog(session, catalog, price_overrides=price_overrides)
    await apply_plan(actions, plan)
    report = SyncReport(plan, applied=True)
    await _record_ids(session, actions, catalog, report)
    return report


def idempotency_key(operation: str, run: str, **parameters: Any) -> str:
    """A key for one provider call: the operation, every parameter it sends, and the sync run.

    Stripe replays the first response to a key for 24 hours and refuses the key with other
    parameters (https://docs.stripe.com/api/idempotent_requests). A key made of only some of
    the parameters failed every later sync once a price changed and changed back; a key without
    the run replayed an old answer instead of acting (drop, re-add, drop a currency: the second
    "deactivate" was a replay and the price stayed active). The run is one ``products sync``:
    the SDK's own retries of a call reuse its key; a new run plans again from the provider's
    current state, so it never repeats an effect that already happened.
    """
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:24]
    return f"catalog:{operation}:{digest}:{run}"


def _product_fields(change: ProductChange) -> dict[str, Any]:
    return {
        "product_id": change.product_id,
        "name": change.name,
        "description": change.description,
        "active": change.active,
    }


async def apply_plan(actions: ProviderActions, plan: SyncPlan, *, run: str | None = None) -> None:
    """Carry out a plan at the provider (idempotent keys per call and run; no database involved)."""
    run = run or secrets.token_hex(8)
    for change in plan.create_products:
        await actions.create_product(
            product_id=change.product_id,
            name=change.name,
            description=change.description,
            active=change.active,
            idempotency_key=idempotency_key("create_product", run, **_product_fields(change)),
        )
    for change in plan.update_products:
        await actions.update_product(
            product_id=change.product_id,
            name=change.name,
            description=change.description,
            active=change.active,
            idempotency_key=idempotency_key("update_product", run, **_product_fields(change)),
        )
    for price in plan.create_prices:
        spec = PriceSpec(
            product_id=price.product_id,
            currency=price.currency,
            unit_amount=price.unit_amount,
            lookup_key=price.lookup_key,
            interval=price.interval,
            interval_count=price.interval_count,
            transfer_lookup_key=price.transfer_lookup_key,
        )
        key = idempotency_key("create_price", run, **dataclasses.asdict(spec))
        await actions.create_price(spec, idempotency_key=key)
    for price_id in plan.reactivate_prices:
        key = idempotency_key("set_price_active", run, price_id=price_id, active=True)
        await actions.set_price_active(price_id=price_id, active=True, idempotency_key=key)
    for price_id in plan.deactivate_prices:
        key = idempotency_key("set_price_active", run, price_id=price_id, active=False)
        await actions.set_price_active(price_id=price_id, active=False, idempotency_key=key)


async def _record_ids(
    session: AsyncSession, actions: ProviderActions, catalog: Catalog, report: SyncReport
) -> None:
    """Store the provider ids of products and of the active price holding each lookup key."""
    listed = {p.id for p in catalog.products}
    for product in await actions.list_products():
        row = await session.get(Product, product.id)
        if row is not None and product.id in listed and row.stripe_id != product.id:
            row.stripe_id = product.id
    await session.flush()
    for price in await actions.list_prices():
        if (
            price.lookup_key
            and price.active
            and await record_provider_price(session, price.lookup_key, price.id)
        ):
            report.recorded.append(price.lookup_key)
    for key, price_id in report.plan.pinned.items():
        if await record_provider_price(session, key, price_id):
            report.recorded.append(key)

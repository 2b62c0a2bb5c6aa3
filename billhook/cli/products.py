"""``billhook products``: show the catalog (``sync`` with the provider comes with the provider)."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog import repository
from billhook.catalog.loader import load_configured_catalog
from billhook.catalog.schemas import lookup_key
from billhook.cli.db_session import run_in_session
from billhook.cli.products_sync import sync
from billhook.cli.tables import print_table
from billhook.config import Settings
from billhook.kit.formatting import format_money

app = typer.Typer(help="The product catalog (billhook.toml).", no_args_is_help=True)


@app.callback()
def products() -> None:
    """The product catalog (billhook.toml)."""


@app.command("list")
def list_products() -> None:
    """List the catalog's products and prices, with the provider price ids recorded so far."""

    async def action(session: AsyncSession, settings: Settings) -> list[tuple[str, ...]]:
        catalog = load_configured_catalog(settings)
        recorded = {p.lookup_key: p.stripe_id for p in await repository.all_prices(session) if p.lookup_key}
        overrides = settings.stripe_price_overrides
        rows: list[tuple[str, ...]] = []
        for product in catalog.products:
            state = "" if product.active else " (inactive)"
            every = f"every {product.interval_count} {product.interval.value}" if product.interval else "once"
            grants = product.grants.role or ", ".join(product.grants.entitlements) or "-"
            for currency in product.currencies:
                key = lookup_key(product.id, currency)
                pinned = overrides.get(product.id) if currency == product.primary_currency else None
                provider = pinned or recorded.get(key) or "not synced"
                amount = format_money(product.prices[currency], currency)
                rows.append((f"{product.id}{state}", every, grants, amount, key, provider))
        return rows

    print_table(
        ("product", "billed", "grants", "price", "lookup key", "provider price"),
        run_in_session(action),
        empty="the catalog has no products",
    )


app.command("sync")(sync)

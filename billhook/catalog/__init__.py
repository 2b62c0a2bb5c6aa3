"""The catalog as code: ``billhook.toml`` → ``products``/``prices`` rows → the provider."""

from billhook.catalog.loader import CatalogError, load_catalog, parse_catalog
from billhook.catalog.schemas import Catalog, CatalogProduct, lookup_key
from billhook.catalog.service import CatalogChanges, active_catalog, apply_catalog
from billhook.catalog.sync import ExistingPrice, ExistingProduct, SyncPlan, plan_sync

__all__ = [
    "Catalog",
    "CatalogChanges",
    "CatalogError",
    "CatalogProduct",
    "ExistingPrice",
    "ExistingProduct",
    "SyncPlan",
    "active_catalog",
    "apply_catalog",
    "load_catalog",
    "lookup_key",
    "parse_catalog",
    "plan_sync",
]

"""The catalog as code: ``billhook.toml`` → ``products``/``prices`` rows → the provider."""

from billhook.catalog.loader import (
    EXAMPLE_CATALOG,
    CatalogError,
    catalog_path,
    load_catalog,
    load_configured_catalog,
    missing_catalog_note,
    parse_catalog,
)
from billhook.catalog.schemas import Catalog, CatalogProduct, lookup_key
from billhook.catalog.service import CatalogChanges, active_catalog, apply_catalog
from billhook.catalog.sync import ExistingPrice, ExistingProduct, SyncPlan, plan_sync

__all__ = [
    "EXAMPLE_CATALOG",
    "Catalog",
    "CatalogChanges",
    "CatalogError",
    "CatalogProduct",
    "ExistingPrice",
    "ExistingProduct",
    "SyncPlan",
    "active_catalog",
    "apply_catalog",
    "catalog_path",
    "load_catalog",
    "load_configured_catalog",
    "lookup_key",
    "missing_catalog_note",
    "parse_catalog",
    "plan_sync",
]

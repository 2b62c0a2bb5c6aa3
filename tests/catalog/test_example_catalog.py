"""The packaged example catalog: what `billhook init` writes and what development sells without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from billhook.catalog import EXAMPLE_CATALOG, CatalogError, catalog_path, load_catalog
from billhook.config import Environment, Settings
from tests.support.databases import make_settings


def _production(catalog: Path) -> Settings:
    """Production settings without the keys production requires: only the catalog matters here."""
    return Settings.model_construct(billhook_env=Environment.PRODUCTION, billhook_catalog=catalog)


def test_the_example_is_a_typical_saas_catalog() -> None:
    catalog = load_catalog(EXAMPLE_CATALOG)
    kinds = {(p.type.value, p.interval.value if p.interval else None) for p in catalog.products}
    assert {("one_time", None), ("subscription", "month"), ("subscription", "year")} <= kinds
    assert any(p.trial_days and p.interval and p.interval.value == "year" for p in catalog.products)
    assert {p.fulfilment for p in catalog.products} >= {"plan", "booking", "domain"}


def test_the_example_ships_inside_the_package() -> None:
    assert EXAMPLE_CATALOG.parent.name == "catalog"
    assert EXAMPLE_CATALOG.parent.parent.name == "billhook"


def test_development_without_a_catalog_falls_back_to_the_example(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite:///unused.db", billhook_env="development", billhook_catalog=str(tmp_path / "none.toml")
    )
    assert catalog_path(settings) == EXAMPLE_CATALOG


def test_an_existing_catalog_is_always_the_one_read(tmp_path: Path) -> None:
    mine = tmp_path / "billhook.toml"
    mine.write_text(EXAMPLE_CATALOG.read_text())
    for env in ("development", "test"):
        settings = make_settings("sqlite:///unused.db", billhook_env=env, billhook_catalog=str(mine))
        assert catalog_path(settings) == mine
    assert catalog_path(_production(mine)) == mine


def test_production_without_a_catalog_stops_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "none.toml"
    with pytest.raises(CatalogError) as raised:
        catalog_path(_production(missing))
    assert str(raised.value) == (
        f"BILLHOOK_CATALOG: {missing} does not exist: put your billhook.toml there "
        "or point BILLHOOK_CATALOG at it"
    )


def test_under_test_settings_a_missing_catalog_is_simply_none(tmp_path: Path) -> None:
    settings = make_settings("sqlite:///unused.db", billhook_catalog=str(tmp_path / "none.toml"))
    assert catalog_path(settings) is None

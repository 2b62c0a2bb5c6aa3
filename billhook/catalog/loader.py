"""Read ``billhook.toml`` into a validated :class:`Catalog`, with errors that name the product and field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from billhook.catalog.schemas import Catalog, CatalogProduct, Grants
from billhook.config import Environment, Settings
from billhook.errors import InvalidInput


class CatalogError(InvalidInput):
    """The catalog file is missing, not TOML, or describes an impossible product."""

    code = "catalog_invalid"


EXAMPLE_CATALOG = Path(__file__).with_name("example.toml")  # what ``billhook init`` writes


def catalog_path(settings: Settings) -> Path | None:
    """The catalog file to read: ``BILLHOOK_CATALOG``, or in development the packaged example.

    A new install should sell something the moment it starts, so development falls back to the
    example; in production a missing catalog is a deployment mistake and stops start-up; under
    ``BILLHOOK_ENV=test`` there is simply no catalog (None).
    """
    configured = settings.billhook_catalog
    if configured.exists():
        return configured
    if settings.billhook_env is Environment.PRODUCTION:
        raise CatalogError(
            f"BILLHOOK_CATALOG: {configured} does not exist: put your billhook.toml there "
            "or point BILLHOOK_CATALOG at it"
        )
    return EXAMPLE_CATALOG if settings.billhook_env is Environment.DEVELOPMENT else None


def load_configured_catalog(settings: Settings) -> Catalog:
    """The catalog a command acts on (see :func:`catalog_path`); none at all is an error here."""
    path = catalog_path(settings)
    if path is None:
        raise CatalogError(
            f"BILLHOOK_CATALOG: {settings.billhook_catalog} does not exist: run 'billhook init' to write one"
        )
    return load_catalog(path)


def missing_catalog_note(configured: Path) -> str:
    """The one line a development start prints when it falls back to the example catalog."""
    return (
        f"note: no catalog at {configured}: selling the example catalog meanwhile; "
        "run 'billhook init' to write a billhook.toml you can edit"
    )


def load_catalog(path: Path | str) -> Catalog:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"catalog file {path} does not exist (set BILLHOOK_CATALOG)") from None
    return parse_catalog(text, source=str(path))


def parse_catalog(text: str, *, source: str = "catalog") -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML ({exc})") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"{source}: {_describe(exc, data)}") from None


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """``product 'pro': prices.usd: Input should be greater than 0`` from pydantic's first error."""
    errors = exc.errors()
    # An unknown key is usually a misspelt one, which also makes a required key look missing.
    error = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
    location = list(error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = f"unknown key; the keys are {', '.join(_known_keys(location))}"
    where = "catalog"
    if len(location) >= 2 and location[0] == "products" and isinstance(location[1], int):
        where = _product_label(data, location[1])
        location = location[2:]
    field = ".".join(str(part) for part in location)
    return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def _known_keys(location: list[Any]) -> list[str]:
    """The keys allowed where an unknown one was found: the top level, a product or its grants."""
    model: type[BaseModel] = Catalog
    if len(location) >= 3 and location[0] == "products":
        model = Grants if location[2] == "grants" and len(location) >= 4 else CatalogProduct
    return list(model.model_fields)


def _product_label(data: dict[str, Any], index: int) -> str:
    products = data.get("products")
    if isinstance(products, list) and index < len(products) and isinstance(products[index], dict):
        product_id = products[index].get("id")
        if product_id:
            return f"product {product_id!r}"
    return f"product #{index + 1}"

"""The catalog as code: what ``billhook.toml`` may say, validated with pydantic.

A product lists its prices per currency in integer minor units (``usd = 2900`` is $29.00),
what it grants (a role and/or named entitlements) and how it is fulfilled. Products rank in
file order (later outranks earlier) unless they set ``rank`` explicitly: when a user holds
several grants, the highest-ranked role wins.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from billhook.catalog.currencies import is_stripe_currency
from billhook.catalog.kinds import KINDS_DESCRIBED, is_item_kind
from billhook.kit.money import Money, decimals, validate_currency

LOOKUP_KEY_VERSION = "v1"
BUILT_IN_ROLES = ("free", "coach", "admin")
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{value!r}: use lower-case letters, digits and _, starting with a letter")
    return value


def _minor_units_fix(currency: str, value: object) -> str:
    """``usd = 4900 means $49.00``: the integer the author most likely meant, and what it is worth."""
    from billhook.kit.formatting import format_money  # noqa: PLC0415 (error path only: Babel is slow to load)

    text = str(value).strip()
    try:
        major = Decimal(text)
    except InvalidOperation:
        major = Decimal(49)
    # "4900" in quotes was meant as minor units already; 49.00 or "49.00" as major units.
    minor = major if isinstance(value, str) and text.isdigit() else major.scaleb(decimals(currency))
    if minor != minor.to_integral_value() or minor <= 0:
        major, minor = Decimal(49), Decimal(49).scaleb(decimals(currency))
    amount = int(minor)
    return f"{currency} = {amount} means {format_money(amount, currency)}"


def _strict_minor_units(prices: Any) -> Any:
    """Prices are integers in the currency's minor unit; ``49.00`` or ``"49.00"`` is refused.

    Pydantic would read ``49.00`` as the integer 49 (that is $0.49): a silent 100x mistake.
    """
    if not isinstance(prices, dict):
        return prices
    for currency, amount in prices.items():
        if isinstance(amount, int) and not isinstance(amount, bool):
            continue
        code = str(currency).strip().lower()
        try:
            fix = _minor_units_fix(validate_currency(code), amount)
        except ValueError:  # the currency itself is wrong too: show the rule on a known one
            fix = _minor_units_fix("usd", 49)
        raise ValueError(
            f"{code} = {amount!r} is not a whole number of minor units; "
            f"write it without decimals or quotes: {fix}"
        )
    return prices


class ProductType(StrEnum):
    SUBSCRIPTION = "subscription"
    ONE_TIME = "one_time"


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Grants(BaseModel):
    """What owning the product gives: a role (``users.role``) and named entitlements."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Annotated[str, Field(max_length=40), AfterValidator(_slug)] | None = None
    entitlements: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.:-]*$")], ...] = ()

    @field_validator("role")
    @classmethod
    def _not_privileged(cls, role: str | None) -> str | None:
        if role in ("admin", "coach"):
            raise ValueError(f"a product cannot grant the {role!r} role; grant those with the CLI")
        return role


class CatalogProduct(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(max_length=100), AfterValidator(_slug)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    type: ProductType
    prices: Annotated[dict[str, Annotated[int, Field(gt=0)]], BeforeValidator(_strict_minor_units)]
    interval: Interval | None = None
    interval_count: Annotated[int, Field(ge=1, le=365)] = 1
    trial_days: Annotated[int, Field(ge=1, le=730)] | None = None
    grants: Grants = Grants()
    fulfilment: str = "plan"
    active: bool = True
    rank: int | None = None

    @field_validator("prices")
    @classmethod
    def _currencies(cls, prices: dict[str, int]) -> dict[str, int]:
        if not prices:
            raise ValueError("list at least one price, e.g. usd = 2900")
        normalized = {validate_currency(currency): amount for currency, amount in prices.items()}
        if len(normalized) != len(prices):
            raise ValueError("a currency is listed twice")
        for currency in normalized:
            if not is_stripe_currency(currency):
                raise ValueError(
                    f"{currency!r} is not a currency Stripe supports; "
                    "see https://docs.stripe.com/currencies for the codes"
                )
        return normalized

    @field_validator("fulfilment")
    @classmethod
    def _fulfilment(cls, kind: str) -> str:
        if not is_item_kind(kind):
            raise ValueError(f"must be {KINDS_DESCRIBED}")
        return kind

    @model_validator(mode="after")
    def _billing_terms(self) -> CatalogProduct:
        if self.type is ProductType.SUBSCRIPTION and self.interval is None:
            raise ValueError("a subscription needs an interval (day, week, month or year)")
        if self.type is ProductType.ONE_TIME and (self.interval or self.trial_days):
            raise ValueError("a one_time product has no interval or trial_days")
        return self

    @property
    def currencies(self) -> list[str]:
        return list(self.prices)

    @property
    def primary_currency(self) -> str:
        """The first listed currency: the one a ``STRIPE_PRICE_<ID>`` override pins."""
        return next(iter(self.prices))

    def price(self, currency: str) -> Money:
        return Money(self.prices[currency], currency)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    products: tuple[CatalogProduct, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: set[str] = set()
        for product in self.products:
            if product.id in seen:
                raise ValueError(f"product id {product.id!r} is listed twice")
            seen.add(product.id)
        return self

    def get(self, product_id: str) -> CatalogProduct | None:
        return next((p for p in self.products if p.id == product_id), None)

    def rank_of(self, product: CatalogProduct) -> int:
        """Explicit ``rank`` or position in the file (1-based): later products outrank earlier."""
        if product.rank is not None:
            return product.rank
        return self.products.index(product) + 1

    @property
    def roles(self) -> list[str]:
        granted = [p.grants.role for p in self.products if p.grants.role]
        return list(dict.fromkeys([*BUILT_IN_ROLES, *granted]))


def lookup_key(product_id: str, currency: str) -> str:
    """The deterministic provider lookup key of a catalog price: ``billhook:<product>:<cur>:v1``."""
    return f"billhook:{product_id}:{currency.lower()}:{LOOKUP_KEY_VERSION}"

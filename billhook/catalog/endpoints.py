"""``GET /api/products``: the active catalog with display prices."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from billhook.catalog.schemas import Interval, ProductType
from billhook.catalog.service import ListedProduct, active_catalog
from billhook.http.deps import SessionDep
from billhook.kit.money import Money

router = APIRouter(prefix="/api", tags=["catalog"])


class PriceOut(BaseModel):
    id: str
    lookup_key: str | None
    amount: int
    currency: str
    display: str


class GrantsOut(BaseModel):
    role: str | None
    entitlements: list[str]


class ProductOut(BaseModel):
    id: str
    name: str
    description: str | None
    type: ProductType
    fulfilment: str
    interval: Interval | None
    interval_count: int | None
    trial_days: int | None
    prices: list[PriceOut]
    grants: GrantsOut


class ProductList(BaseModel):
    products: list[ProductOut]


def product_out(product: ListedProduct) -> ProductOut:
    first = product.prices[0]
    return ProductOut(
        id=product.id,
        name=product.name,
        description=product.description,
        type=ProductType(product.type),
        fulfilment=product.fulfilment,
        interval=Interval(first.interval) if first.interval else None,
        interval_count=first.interval_count if first.interval else None,
        trial_days=first.trial_days,
        prices=[
            PriceOut(
                id=price.id,
                lookup_key=price.lookup_key,
                amount=price.unit_amount,
                currency=price.currency,
                display=Money(price.unit_amount, price.currency).format(),
            )
            for price in product.prices
        ],
        grants=GrantsOut(role=product.role, entitlements=list(product.entitlements)),
    )


@router.get("/products", summary="The active catalog")
async def list_products(session: SessionDep) -> ProductList:
    return ProductList(products=[product_out(p) for p in await active_catalog(session)])

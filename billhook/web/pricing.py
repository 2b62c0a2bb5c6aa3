"""The pricing page: the catalog as cards, each with its buy form (``POST /checkout/start``).

A domain product's form (``fulfilment = "domain"``) asks for the name to register. When the
checkout refuses what was typed (not a registrable name, or already registered here), the page is
rendered again with the reason under that product's field and the name kept, rather than a JSON
422 or an error page.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.catalog.service import ListedProduct, active_catalog
from billhook.checkout.domains import DOMAIN_FULFILMENT
from billhook.kit.formatting import format_money
from billhook.models import User
from billhook.web.rendering import render

CHECKOUT_START = "/checkout/start"


@dataclass(frozen=True, slots=True)
class RefusedForm:
    """What one product's form sent and why the checkout refused it."""

    product_id: str
    domain: str
    error: str


def _card(product: ListedProduct) -> dict[str, object]:
    first = product.prices[0]
    every = ""
    if first.interval:
        every = (
            f"/ {first.interval}"
            if first.interval_count == 1
            else f"/ {first.interval_count} {first.interval}s"
        )
    return {
        "id": product.id,
        "name": product.name,
        "description": product.description,
        "subscription": product.type == "subscription",
        "asks_domain": product.fulfilment == DOMAIN_FULFILMENT,
        "every": every,
        "trial_days": first.trial_days,
        "entitlements": product.entitlements,
        "prices": [
            {"currency": p.currency, "display": format_money(p.unit_amount, p.currency)}
            for p in product.prices
        ],
    }


async def render_pricing(
    request: Request,
    session: AsyncSession,
    user: User | None,
    *,
    refused: RefusedForm | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    cards = [_card(product) for product in await active_catalog(session)]
    context = {"cards": cards, "checkout_action": CHECKOUT_START, "refused": refused}
    return render(request, "pricing.html", context, user=user, status_code=status_code)

"""Buying a domain: the checkout of a product with ``fulfilment = "domain"`` takes the name.

The name is checked here (a registrable name, else 422), kept on the pending order's metadata and
sent as Checkout metadata, which Stripe copies onto the subscription (``subscription_data.
metadata``): the order job reads it from there for the registration and for every yearly renewal
(``billhook.orders.paid_events``). One live subscription per domain; a user may own several
domains beside one plan, so domain subscriptions do not count as "a subscription" for the
one-plan rule.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.errors import Conflict, InvalidInput
from billhook.kit.domain_names import InvalidDomainName, registrable_domain
from billhook.models import CheckoutSession, DomainRegistration, Order, Product, Subscription

DOMAIN_FULFILMENT = "domain"
METADATA_KEY = "domain"
LIVE = ("active", "trialing", "past_due", "incomplete")


def domain_for(product: Product, value: str | None) -> str | None:
    """The domain this checkout buys, validated; ``None`` for a product that is not a domain."""
    if product.fulfilment != DOMAIN_FULFILMENT:
        if value:
            raise InvalidInput(f"domain: {product.name} is not a domain product", field="domain")
        return None
    if not value:
        raise InvalidInput(
            f"domain: {product.name} registers a domain; give its name, such as example.com",
            field="domain",
        )
    try:
        return registrable_domain(value)
    except InvalidDomainName as exc:
        raise InvalidInput(f"domain: {exc}", field="domain") from exc


async def refuse_taken(session: AsyncSession, domain: str) -> None:
    """409 when the domain is registered here already or a live subscription pays for it."""
    registered = await session.scalar(
        select(DomainRegistration.id).where(DomainRegistration.domain == domain)
    )
    rows = await session.scalars(
        select(Subscription)
        .join(Product, Product.id == Subscription.product_id)
        .where(Product.fulfilment == DOMAIN_FULFILMENT, Subscription.status.in_(LIVE))
    )
    paid_for = any((row.raw.get("metadata") or {}).get(METADATA_KEY) == domain for row in rows)
    if registered or paid_for:
        raise Conflict(f"{domain} is already registered here", field="domain")


async def is_domain_product(session: AsyncSession, product_id: str | None) -> bool:
    if not product_id:
        return False
    product = await session.get(Product, product_id)
    return product is not None and product.fulfilment == DOMAIN_FULFILMENT


async def same_domain(session: AsyncSession, row: CheckoutSession, domain: str | None) -> bool:
    """Whether an open checkout buys the same domain (an open session is reused only then)."""
    order = await session.get(Order, row.order_id) if row.order_id else None
    opened_for = (order.metadata_ or {}).get(METADATA_KEY) if order is not None else None
    return opened_for == domain

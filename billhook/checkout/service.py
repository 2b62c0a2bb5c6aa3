"""Opening Checkout Sessions for signed-in users. Only flushes; the request commits.

Rules (issue 8): unknown or inactive product/price → 422; a live subscription to the plan →
409 with it; an open session for the same user, price and quantity is reused, never
duplicated (cashier#1604: customers charged twice); redirect URLs must be on an allowed origin;
every provider call carries an idempotency key; metadata names user, product and order; a
PENDING order is written first so the paid amount can later be checked against it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import BillhookCache
from billhook.catalog import repository as catalog_repository
from billhook.checkout import repository
from billhook.checkout.domains import METADATA_KEY as DOMAIN_KEY
from billhook.checkout.domains import domain_for, is_domain_product, refuse_taken, same_domain
from billhook.checkout.success import SuccessTokens
from billhook.config import Settings
from billhook.customers.provider_customer import provider_customer_for
from billhook.customers.service import ensure_customer
from billhook.errors import Conflict, InvalidInput
from billhook.kit.clock import Clock
from billhook.models import CheckoutSession, Order, OrderType, Price, Product, Subscription, User
from billhook.models.orders import OrderStatus
from billhook.providers.actions import (
    CheckoutMode,
    CheckoutRequest,
    CreatedCheckout,
    MissingAtProvider,
    ProviderActions,
)
from billhook.providers.base import PaymentProvider
from billhook.subscriptions import repository as subscriptions_repository

SUCCESS_PATH = "/payment/success"
CANCEL_PATH = "/payment/cancel"
CACHE_NAMESPACE = "checkout"
PLACEHOLDER = "{CHECKOUT_SESSION_ID}"  # Stripe substitutes it in success_url
OPENING = "checkout-opening"
OPENING_SECONDS = 10.0
WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CheckoutInput:
    product_id: str | None = None
    price_id: str | None = None
    quantity: int = 1
    currency: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    domain: str | None = None  # for a product with fulfilment = "domain" (billhook.checkout.domains)


@dataclass(frozen=True, slots=True)
class StartedCheckout:
    session_id: str
    url: str
    expires_at: datetime | None
    amount: int
    currency: str
    order_id: str | None
    reused: bool
    payment_id: str | None = None
    price_stripe_id: str | None = None  # for :func:`release_claim`


@dataclass
class CheckoutDeps:
    session: AsyncSession
    actions: ProviderActions
    provider: PaymentProvider
    settings: Settings
    clock: Clock
    cache: BillhookCache


def subscription_summary(row: Subscription) -> dict[str, Any]:
    return {
        "id": row.stripe_id,
        "product_id": row.product_id,
        "status": row.status,
        "current_period_end": row.current_period_end.isoformat() if row.current_period_end else None,
        "cancel_at_period_end": row.cancel_at_period_end,
    }


def check_redirect(url: str | None, field: str, settings: Settings) -> str | None:
    """Allow only the configured origins: never an open redirect after payment."""
    if url is None:
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {o.lower().rstrip("/") for o in settings.redirect_origins}
    if parts.scheme not in ("http", "https") or origin not in allowed:
        raise InvalidInput(f"{field}: must start with one of {', '.join(sorted(allowed))}", field=field)
    return url


def _with_params(url: str, params: str) -> str:
    # Built by hand: urlencode would escape the braces Stripe looks for.
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}{params}"


async def resolve_price(session: AsyncSession, data: CheckoutInput) -> tuple[Product, Price]:
    if bool(data.product_id) == bool(data.price_id):
        raise InvalidInput("give either product_id or price_id", field="product_id")
    if data.price_id:
        price = await catalog_repository.price_by_reference(session, data.price_id)
        if price is None or not price.active:
            raise InvalidInput(f"price_id: {data.price_id!r} is not an active price", field="price_id")
        product = await catalog_repository.product(session, price.product_id)
    else:
        assert data.product_id is not None
        product = await catalog_repository.product(session, data.product_id)
        prices = await catalog_repository.prices_of(session, data.product_id) if product else []
        price = _in_currency(prices, data.currency, product)
    if product is None or not product.active:
        name = data.product_id or data.price_id
        raise InvalidInput(f"product_id: {name!r} is not an active product", field="product_id")
    if data.currency and price.currency != data.currency.lower():
        raise InvalidInput(f"currency: this price is in {price.currency}", field="currency")
    return product, price


def _in_currency(prices: list[Price], currency: str | None, product: Product | None) -> Price:
    if product is None or not prices:
        return _missing_product()
    if currency is None:
        order = list((product.raw or {}).get("currencies", []))
        return min(prices, key=lambda p: order.index(p.currency) if p.currency in order else 99)
    for price in prices:
        if price.currency == currency.lower():
            return price
    offered = ", ".join(sorted(p.currency for p in prices))
    raise InvalidInput(f"currency: {product.id} is sold in {offered}", field="currency")


def _missing_product() -> Price:
    raise InvalidInput("product_id: not an active product", field="product_id")


async def start_checkout(deps: CheckoutDeps, user: User, data: CheckoutInput) -> StartedCheckout:
    success_url = check_redirect(data.success_url, "success_url", deps.settings)
    cancel_url = check_redirect(data.cancel_url, "cancel_url", deps.settings)
    product, price = await resolve_price(deps.session, data)
    if not price.stripe_id:
        raise InvalidInput(
            f"{product.id} is not on sale yet: run 'billhook products sync'", field="product_id"
        )
    mode: CheckoutMode = "subscription" if price.interval else "payment"
    domain = domain_for(product, data.domain)
    data = replace(data, domain=domain)
    if domain is not None:
        await refuse_taken(deps.session, domain)
    elif mode == "subscription":
        await _refuse_second_subscription(deps.session, user, product)
    reused = await _reuse_open_session(deps, user, price.stripe_id, data.quantity, domain)
    if reused is None and await _opening_elsewhere(deps, user, price.stripe_id):
        reused = await _await_concurrent(deps, user, price.stripe_id, data.quantity, domain)
    if reused is not None:
        return reused
    try:
        return await _open_session(
            deps, user, data, product=product, price=price, mode=mode, redirects=(success_url, cancel_url)
        )
    except BaseException:
        # A failed attempt (the provider refused or timed out) gives its claim back at once: a
        # retry opens a session instead of being told one "is being opened already" (409).
        await deps.cache.delete(OPENING, user.id, price.stripe_id)
        raise


async def _open_session(
    deps: CheckoutDeps,
    user: User,
    data: CheckoutInput,
    *,
    product: Product,
    price: Price,
    mode: CheckoutMode,
    redirects: tuple[str | None, str | None],
) -> StartedCheckout:
    """Open a new provider session for ``price``; the caller holds the opening claim."""
    assert price.stripe_id is not None
    success_url, cancel_url = redirects
    order = await _pending_order(deps.session, user, product, price, data.quantity)
    metadata = {"user_id": user.id, "product_id": product.id, "order_id": order.id}
    if data.domain:
        metadata[DOMAIN_KEY] = data.domain
        order.metadata_ = {**order.metadata_, DOMAIN_KEY: data.domain}
    customer_id = await provider_customer_for(deps.session, deps.actions, user)
    token = SuccessTokens(deps.settings.secret_key).issue(user.id, order.id)
    base = deps.settings.billhook_base_url
    success = _with_params(success_url or f"{base}{SUCCESS_PATH}", f"session_id={PLACEHOLDER}&token={token}")
    trial = price.trial_days if mode == "subscription" else None
    if trial and await subscriptions_repository.had_subscription_to(deps.session, user.id, product.id):
        trial = None  # one trial per customer and plan
    created = await open_provider_checkout(
        deps.actions,
        CheckoutRequest(
            mode=mode,
            price_id=price.stripe_id,
            quantity=data.quantity,
            success_url=success,
            cancel_url=cancel_url or f"{base}{CANCEL_PATH}",
            idempotency_key=f"checkout:{order.id}",
            customer_id=customer_id,
            client_reference_id=user.id,
            metadata=metadata,
            trial_period_days=trial,
        ),
    )
    order.checkout_session_stripe_id = created.id
    amount = created.amount_total if created.amount_total is not None else order.amount_total
    row = CheckoutSession(
        stripe_id=created.id, user_id=user.id, order_id=order.id, product_id=product.id,
        price_stripe_id=price.stripe_id, quantity=data.quantity, mode=mode, status="open",
        amount_total=amount, currency=created.currency or price.currency, url=created.url,
        expires_at=created.expires_at, raw={},
    )  # fmt: skip
    customer = await ensure_customer(deps.session, customer_id)
    row.customer_id = customer.id
    deps.session.add(row)
    await deps.session.flush()
    ttl = (created.expires_at - deps.clock.now()).total_seconds() if created.expires_at else 86400
    entry = {"user_id": user.id, "order_id": order.id, "token": token, "product_id": product.id}
    await deps.cache.set(CACHE_NAMESPACE, created.id, value=entry, ttl_seconds=max(ttl, 60))
    return StartedCheckout(
        created.id, created.url, created.expires_at, amount, row.currency or price.currency, order.id, False,
        price_stripe_id=price.stripe_id,
    )  # fmt: skip


async def open_provider_checkout(actions: ProviderActions, request: CheckoutRequest) -> CreatedCheckout:
    """The provider's session for ``request``; 409 naming the customer when the provider has none.

    The customer comes from the mirror, which still names one deleted at the provider until its
    ``customer.deleted`` is applied (then :func:`provider_customer_for` makes a new one). Until
    then the provider refuses the session; what is wrong is the account's customer, not the price
    or the request.
    """
    try:
        return await actions.create_checkout_session(request)
    except MissingAtProvider as exc:
        if exc.param != "customer":
            raise
        raise Conflict(
            f"checkout cannot start: the payment provider has no customer {request.customer_id}, "
            "the billing account this user pays as (deleted there?); try again in a few minutes, "
            "or contact support if this persists"
        ) from None


async def _refuse_second_subscription(session: AsyncSession, user: User, product: Product) -> None:
    """One plan per user: 409 naming the live one (domains bought beside it do not count)."""
    for row in await subscriptions_repository.live_subscriptions(session, user.id):
        if await is_domain_product(session, row.product_id):
            continue
        if row.product_id == product.id:
            raise Conflict(
                f"you are already subscribed to {product.name}",
                subscription=subscription_summary(row),
            )
        raise Conflict(
            "you already have a subscription: change its plan instead (POST /api/subscription/change-plan)",
            subscription=subscription_summary(row),
        )


async def _reuse_open_session(
    deps: CheckoutDeps, user: User, price_stripe_id: str, quantity: int, domain: str | None = None
) -> StartedCheckout | None:
    row = await repository.open_session_for(
        deps.session, user.id, price_stripe_id, quantity, deps.clock.now()
    )
    if row is None or not row.url or not await same_domain(deps.session, row, domain):
        return None
    current = await deps.provider.get_checkout_session(row.stripe_id)
    if current.status != "open":
        row.status = current.status or row.status
        await deps.session.flush()
        return None
    return StartedCheckout(
        row.stripe_id, row.url, row.expires_at, row.amount_total or 0, row.currency or "", row.order_id, True
    )


async def _opening_elsewhere(deps: CheckoutDeps, user: User, price_stripe_id: str) -> bool:
    """Claim the right to open this user's session for this price; False for the first claimant.

    A double click sends two requests at once: neither sees the other's uncommitted session, so
    without this both would open one (cashier#1604). The opener releases the claim once its
    transaction has committed (:func:`release_claim`); if it dies, the claim expires on its own.
    """
    claims = await deps.cache.incr(OPENING, user.id, price_stripe_id, ttl_seconds=OPENING_SECONDS)
    return claims > 1


async def release_claim(cache: BillhookCache, user_id: str, started: StartedCheckout) -> None:
    """Call once the request that opened the session has committed (a background task)."""
    if started.price_stripe_id and not started.reused:
        await cache.delete(OPENING, user_id, started.price_stripe_id)


async def _await_concurrent(
    deps: CheckoutDeps, user: User, price_stripe_id: str, quantity: int, domain: str | None = None
) -> StartedCheckout:
    """The session the concurrent request opens, once it is committed; 409 if none appears."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        reused = await _reuse_open_session(deps, user, price_stripe_id, quantity, domain)
        if reused is not None:
            return reused
    raise Conflict("a checkout for this product is being opened already: try again in a moment")


async def _pending_order(
    session: AsyncSession, user: User, product: Product, price: Price, quantity: int
) -> Order:
    order = Order(
        user_id=user.id,
        type=OrderType.NEW,
        status=OrderStatus.PENDING,
        amount_total=price.unit_amount * quantity,
        currency=price.currency,
        metadata_={"product_id": product.id, "price_id": price.stripe_id, "quantity": quantity},
    )
    session.add(order)
    await session.flush()
    return order

"""Factories for sandbox objects, made through the official SDK (and the hosted page, over HTTP)."""

from __future__ import annotations

import re
from typing import Any

import stripe

from tests.support.sandbox import Harness

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def make_product(h: Harness, name: str = "Pro") -> stripe.Product:
    return await h.client.v1.products.create_async(params={"name": name})


async def make_price(
    h: Harness,
    *,
    amount: int = 1000,
    interval: str | None = "month",
    name: str = "Pro",
    lookup_key: str | None = None,
    currency: str = "usd",
) -> stripe.Price:
    product = await make_product(h, name)
    params: dict[str, Any] = {"product": product.id, "unit_amount": amount, "currency": currency}
    if interval:
        params["recurring"] = {"interval": interval}
    if lookup_key:
        params["lookup_key"] = lookup_key
    return await h.client.v1.prices.create_async(params=params)  # type: ignore[arg-type]


async def make_customer(h: Harness, email: str = "ada@example.com", **extra: Any) -> stripe.Customer:
    return await h.client.v1.customers.create_async(params={"email": email, **extra})


async def make_checkout(
    h: Harness, price: stripe.Price, *, mode: str = "subscription", **extra: Any
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": mode,
        "line_items": [{"price": price.id, "quantity": 1}],
        "success_url": "https://shop.example/success?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancel",
        **extra,
    }
    return await h.client.v1.checkout.sessions.create_async(params=params)  # type: ignore[arg-type]


async def submit_card(h: Harness, session_url: str, card: str, email: str | None = "ada@example.com") -> Any:
    """Load the hosted checkout page, then post its form the way a browser would (no redirects)."""
    page = await h.http.get(session_url)
    assert page.status_code == 200, page.text
    match = TOKEN.search(page.text)
    assert match is not None, "the checkout page has no form"
    form = {"form_token": match.group(1), "card_number": card, "exp": "12/34", "cvc": "123"}
    if email and 'name="email"' in page.text:
        form["email"] = email
    return await h.http.post(f"{session_url}/pay", data=form)


async def subscribe(
    h: Harness, price: stripe.Price, card: str = "4242424242424242", **extra: Any
) -> stripe.Subscription:
    """A subscription made the way a customer makes one: through the hosted checkout."""
    session = await make_checkout(h, price, **extra)
    assert session.url is not None
    response = await submit_card(h, session.url, card)
    assert response.status_code == 303, response.text
    done = await h.client.v1.checkout.sessions.retrieve_async(session.id)
    assert done.subscription is not None
    sub_id = done.subscription if isinstance(done.subscription, str) else done.subscription.id
    return await h.client.v1.subscriptions.retrieve_async(sub_id)

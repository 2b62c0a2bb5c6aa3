"""Every resource the sandbox returns has exactly the keys of Stripe's own example (fixtures3.json)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_checkout, make_customer, make_price, subscribe
from tests.support.stripe_shapes import assert_shaped


@pytest.fixture
async def world(sandbox: Harness) -> dict[str, Any]:
    """One of everything, made through the SDK and the hosted checkout."""
    c = sandbox.client.v1
    secret_endpoint = await c.webhook_endpoints.create_async(
        params={"url": "http://127.0.0.1:9/none", "enabled_events": ["*"]}
    )
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price, card="4000000000000259")
    invoice = await c.invoices.retrieve_async(str(sub.latest_invoice))
    intent = await c.payment_intents.retrieve_async(
        (await c.invoices.retrieve_async(invoice.id, params={"expand": ["payments"]}))
        .payments.data[0]  # type: ignore[union-attr]
        .payment.payment_intent
    )
    charge = await c.charges.retrieve_async(str(intent.latest_charge))
    refund = await c.refunds.create_async(
        params={"charge": (await _undisputed_charge(sandbox)).id, "amount": 100}
    )
    dispute = (await c.disputes.list_async(params={"charge": charge.id})).data[0]
    customer = await make_customer(sandbox)
    setup_intent = await c.setup_intents.create_async(
        params={"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True}
    )
    portal = await c.billing_portal.sessions.create_async(
        params={"customer": customer.id, "return_url": "https://shop.example"}
    )
    session = await c.checkout.sessions.retrieve_async((await make_checkout(sandbox, price)).id)
    events = await c.events.list_async(params={"limit": 1})
    return {
        "product": await c.products.retrieve_async(price.product),  # type: ignore[arg-type]
        "price": price,
        "customer": customer,
        "subscription": sub,
        "subscription_item": sub["items"].data[0],
        "invoice": invoice,
        "payment_intent": intent,
        "charge": charge,
        "refund": refund,
        "dispute": dispute,
        "setup_intent": setup_intent,
        "payment_method": await c.payment_methods.retrieve_async(str(setup_intent.payment_method)),
        "billing_portal.session": portal,
        "checkout.session": session,
        "event": events.data[0],
        "webhook_endpoint": await c.webhook_endpoints.retrieve_async(secret_endpoint.id),
        "line_item": invoice.lines.data[0],
        "item": (await c.checkout.sessions.line_items.list_async(session.id)).data[0],
    }


async def _undisputed_charge(sandbox: Harness) -> Any:
    intent = await sandbox.client.v1.payment_intents.create_async(
        params={"amount": 500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    return await sandbox.client.v1.charges.retrieve_async(str(intent.latest_charge))


RESOURCES = [
    "product",
    "price",
    "customer",
    "payment_method",
    "checkout.session",
    "billing_portal.session",
    "subscription",
    "subscription_item",
    "invoice",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "setup_intent",
    "event",
    "webhook_endpoint",
    "line_item",
    "item",
]


async def test_every_resource_has_stripes_key_set(world: dict[str, Any]) -> None:
    for resource in RESOURCES:
        assert_shaped(resource, world[resource])


async def test_webhook_endpoint_create_adds_only_the_secret(sandbox: Harness) -> None:
    created = await sandbox.client.v1.webhook_endpoints.create_async(
        params={"url": "http://127.0.0.1:9/none", "enabled_events": ["invoice.paid"]}
    )
    assert_shaped("webhook_endpoint", created, extra=frozenset({"secret"}))
    assert created.secret is not None and created.secret.startswith("whsec_")


async def test_event_payload_objects_are_shaped_like_the_api(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    await subscribe(sandbox, price)
    events = await sandbox.client.v1.events.list_async(params={"limit": 100})
    seen = set()
    for event in events.data:
        kind = event.data.object["object"]
        if kind in RESOURCES:
            assert_shaped(kind, event.data.object)
            seen.add(kind)
    assert {"customer", "subscription", "invoice", "payment_intent", "charge", "checkout.session"} <= seen

"""Stripe's HTTP conventions: auth, errors with ``param``, idempotency, pagination, expand."""

from __future__ import annotations

import pytest
import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_customer, make_price, subscribe


async def test_missing_api_key_is_an_authentication_error(sandbox: Harness) -> None:
    response = await sandbox.http.get(f"{sandbox.base}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_live_keys_are_refused(sandbox: Harness) -> None:
    live = stripe.StripeClient(
        "sk_live_123",
        base_addresses={"api": sandbox.base},
        http_client=stripe.HTTPXClient(),
        max_network_retries=0,
    )
    with pytest.raises(stripe.AuthenticationError):
        await live.v1.customers.list_async()


async def test_every_response_carries_a_request_id(sandbox: Harness) -> None:
    response = await sandbox.api("GET", "/v1/customers")
    assert response.headers["request-id"].startswith("req_")


async def test_unknown_id_is_a_404_naming_the_param(sandbox: Harness) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await sandbox.client.v1.checkout.sessions.create_async(
            params={
                "mode": "subscription",
                "line_items": [{"price": "price_missing", "quantity": 1}],
                "success_url": "https://shop.example/ok",
            }
        )
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "line_items[0][price]"


async def test_missing_required_param_names_it(sandbox: Harness) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await sandbox.client.v1.prices.create_async(params={"currency": "usd", "unit_amount": 100})
    assert raised.value.http_status == 400
    assert (raised.value.code, raised.value.param) == ("parameter_missing", "product")


async def test_bad_integer_is_parameter_invalid_integer(sandbox: Harness) -> None:
    response = await sandbox.api("POST", "/v1/payment_intents", amount="ten", currency="usd")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_invalid_integer"
    assert response.json()["error"]["param"] == "amount"


async def test_unknown_params_are_refused_and_nothing_is_stored(sandbox: Harness) -> None:
    response = await sandbox.api("POST", "/v1/customers", email="a@example.com", colour="blue")
    assert response.status_code == 400
    assert response.json()["error"] == {
        **response.json()["error"],
        "code": "parameter_unknown",
        "param": "colour",
    }
    assert (await sandbox.client.v1.customers.list_async()).data == []


async def test_unrecognised_url_is_a_stripe_shaped_404(sandbox: Harness) -> None:
    response = await sandbox.api("GET", "/v1/nothing_here")
    assert response.status_code == 404
    assert "Unrecognized request URL" in response.json()["error"]["message"]


async def test_same_idempotency_key_replays_the_first_response(sandbox: Harness) -> None:
    options = {"idempotency_key": "signup-42"}
    first = await sandbox.client.v1.customers.create_async(params={"email": "a@example.com"}, options=options)
    second = await sandbox.client.v1.customers.create_async(
        params={"email": "a@example.com"}, options=options
    )
    assert first.id == second.id
    assert len((await sandbox.client.v1.customers.list_async()).data) == 1


async def test_idempotent_replay_keeps_the_original_status(sandbox: Harness) -> None:
    headers = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "pay-1"}
    data = {"amount": "500", "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": "true"}
    first = await sandbox.http.post(f"{sandbox.base}/v1/payment_intents", data=data, headers=headers)
    second = await sandbox.http.post(f"{sandbox.base}/v1/payment_intents", data=data, headers=headers)
    assert first.status_code == second.status_code == 402
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"


async def test_same_key_with_other_params_is_an_idempotency_error(sandbox: Harness) -> None:
    options = {"idempotency_key": "signup-43"}
    await sandbox.client.v1.customers.create_async(params={"email": "a@example.com"}, options=options)
    with pytest.raises(stripe.IdempotencyError):
        await sandbox.client.v1.customers.create_async(params={"email": "b@example.com"}, options=options)


async def test_lists_paginate_newest_first_with_cursors(sandbox: Harness) -> None:
    made = [await make_customer(sandbox, f"c{i}@example.com") for i in range(5)]
    newest_first = [c.id for c in reversed(made)]
    page = await sandbox.client.v1.customers.list_async(params={"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2] and page.has_more
    assert page.url == "/v1/customers"
    following = await sandbox.client.v1.customers.list_async(
        params={"limit": 2, "starting_after": page.data[-1].id}
    )
    assert [c.id for c in following.data] == newest_first[2:4]
    before = await sandbox.client.v1.customers.list_async(
        params={"limit": 2, "ending_before": following.data[0].id}
    )
    assert [c.id for c in before.data] == newest_first[:2]
    everything = [
        c.id
        async for c in (await sandbox.client.v1.customers.list_async(params={"limit": 2})).auto_paging_iter()
    ]
    assert everything == newest_first


async def test_expand_resolves_nested_ids(sandbox: Harness) -> None:
    price = await make_price(sandbox, name="Team")
    sub = await subscribe(sandbox, price)
    expanded = await sandbox.client.v1.subscriptions.retrieve_async(
        sub.id,
        params={
            "expand": [
                "customer",
                "default_payment_method",
                "latest_invoice.payments.data.payment.payment_intent",
                "latest_invoice.confirmation_secret",
                "items.data.price.product",
            ]
        },
    )
    assert expanded.customer.email == "ada@example.com"  # type: ignore[union-attr]
    assert expanded.default_payment_method.card.last4 == "4242"  # type: ignore[union-attr]
    invoice = expanded.latest_invoice
    intent = invoice.payments.data[0].payment.payment_intent  # type: ignore[union-attr]
    assert intent.status == "succeeded"
    assert invoice.confirmation_secret.client_secret == intent.client_secret  # type: ignore[union-attr]
    assert expanded["items"].data[0].price.product.name == "Team"


async def test_expand_of_a_plain_field_is_refused(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await sandbox.client.v1.customers.retrieve_async(customer.id, params={"expand": ["email"]})
    assert raised.value.param == "expand"

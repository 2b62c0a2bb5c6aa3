"""``StripeActions`` through the SDK against the served sandbox: idempotency and error mapping."""

from __future__ import annotations

import pytest

from billhook.errors import NotFound, ProviderError
from billhook.providers.actions import USER_ID_METADATA
from tests.support.stack import Stack


async def test_find_or_create_customer_finds_the_users_own_customer(stack: Stack) -> None:
    first = await stack.actions.find_or_create_customer(
        email="ada@example.com", user_id="usr_1", idempotency_key="k1"
    )
    again = await stack.actions.find_or_create_customer(
        email="ada@example.com", user_id="usr_1", idempotency_key="k2"
    )
    other = await stack.actions.find_or_create_customer(
        email="ada@example.com", user_id="usr_2", idempotency_key="k3"
    )

    assert first == again != other
    assert (await stack.provider.get_customer(first)).metadata == {USER_ID_METADATA: "usr_1"}


async def test_a_refund_retried_with_its_key_happens_once(stack: Stack) -> None:
    ada = await stack.register("ada@example.com")
    checkout = (await stack.checkout(ada, product_id="starter")).json()
    assert (await stack.pay(checkout["url"])).status_code == 303
    intent = (await stack.provider.get_checkout_session(checkout["session_id"])).payment_intent_id
    assert intent is not None

    first = await stack.actions.create_refund(
        payment_intent_id=intent, amount=1000, reason="requested_by_customer", idempotency_key="refund-1"
    )
    again = await stack.actions.create_refund(
        payment_intent_id=intent, amount=1000, reason="requested_by_customer", idempotency_key="refund-1"
    )

    assert first.id == again.id and (first.amount, first.currency) == (1000, "usd")
    charge = await stack.provider.get_charge(
        (await stack.provider.get_payment_intent(intent)).latest_charge_id or ""
    )
    assert charge.amount_refunded == 1000
    with pytest.raises(ProviderError) as too_much:
        await stack.actions.create_refund(
            payment_intent_id=intent, amount=10_000, reason=None, idempotency_key="refund-2"
        )
    assert too_much.value.status_code == 502 and too_much.value.message


async def test_unknown_ids_are_not_found(stack: Stack) -> None:
    with pytest.raises(NotFound):
        await stack.actions.set_cancel_at_period_end(
            subscription_id="sub_nope", cancel=True, idempotency_key="x"
        )
    with pytest.raises(NotFound):
        await stack.actions.pay_invoice(invoice_id="in_nope", idempotency_key="y")


async def test_webhook_endpoints_are_created_with_a_secret_and_listed(stack: Stack) -> None:
    created = await stack.actions.create_webhook_endpoint(
        url="https://billhook.example/api/payments/webhook", enabled_events=("*",), idempotency_key="setup-1"
    )
    listed = await stack.actions.list_webhook_endpoints()
    assert created.secret and created.secret.startswith("whsec_")
    assert created.id in {endpoint.id for endpoint in listed}

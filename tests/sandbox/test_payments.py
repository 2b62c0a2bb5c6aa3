"""PaymentIntents, declines, 3-D Secure, refunds, disputes and SetupIntents through the SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_customer


async def pay(h: Harness, pm: str = "pm_card_visa", amount: int = 2000, **extra: Any) -> stripe.PaymentIntent:
    return await h.client.v1.payment_intents.create_async(
        params={"amount": amount, "currency": "usd", "payment_method": pm, "confirm": True, **extra}
    )


async def test_confirmed_payment_intent_succeeds_with_a_charge(sandbox: Harness) -> None:
    intent = await pay(sandbox, metadata={"order": "A-1"})
    assert intent.status == "succeeded" and intent.amount_received == 2000
    charge = await sandbox.client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert charge.paid and charge.metadata.to_dict() == {"order": "A-1"}
    assert await sandbox.event_types() == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


async def test_declined_card_raises_card_error_and_keeps_the_failure(sandbox: Harness) -> None:
    with pytest.raises(stripe.CardError) as raised:
        await pay(sandbox, "pm_card_chargeDeclined")
    error = raised.value
    assert (error.code, error.error.decline_code) == ("card_declined", "generic_decline")  # type: ignore[union-attr]
    intent_id = error.error.payment_intent["id"]  # type: ignore[union-attr, index]
    intent = await sandbox.client.v1.payment_intents.retrieve_async(intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"  # type: ignore[union-attr]
    assert await sandbox.event_types() == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]


async def _follow_3ds(h: Harness, intent: stripe.PaymentIntent, outcome: str) -> None:
    url = intent.next_action.redirect_to_url.url  # type: ignore[union-attr]
    page = await h.http.get(url)
    assert page.status_code == 200 and "Complete authentication" in page.text
    secret = intent.client_secret
    response = await h.http.post(
        url.split("?")[0],
        data={"client_secret": secret, "outcome": outcome, "return_url": "https://shop.example/back"},
    )
    assert response.status_code == 303 and response.headers["location"] == "https://shop.example/back"


async def test_3ds_card_requires_action_then_approval_succeeds(sandbox: Harness) -> None:
    intent = await pay(
        sandbox, "pm_card_authenticationRequiredOnSetup", return_url="https://shop.example/back"
    )
    assert intent.status == "requires_action"
    assert intent.next_action.type == "redirect_to_url"  # type: ignore[union-attr]
    await _follow_3ds(sandbox, intent, "approve")
    after = await sandbox.client.v1.payment_intents.retrieve_async(intent.id)
    assert after.status == "succeeded"


async def test_3ds_failure_leaves_the_intent_needing_a_new_method(sandbox: Harness) -> None:
    intent = await pay(
        sandbox, "pm_card_authenticationRequiredOnSetup", return_url="https://shop.example/back"
    )
    await _follow_3ds(sandbox, intent, "fail")
    after = await sandbox.client.v1.payment_intents.retrieve_async(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == "payment_intent_authentication_failure"  # type: ignore[union-attr]


async def test_3ds_page_refuses_a_post_without_the_client_secret(sandbox: Harness) -> None:
    intent = await pay(
        sandbox, "pm_card_authenticationRequiredOnSetup", return_url="https://shop.example/back"
    )
    url = intent.next_action.redirect_to_url.url.split("?")[0]  # type: ignore[union-attr]
    response = await sandbox.http.post(url, data={"client_secret": "guess", "outcome": "approve"})
    assert response.status_code == 403
    assert (await sandbox.client.v1.payment_intents.retrieve_async(intent.id)).status == "requires_action"


async def test_partial_then_full_refund(sandbox: Harness) -> None:
    intent = await pay(sandbox)
    first = await sandbox.client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 500})
    assert first.status == "succeeded" and first.amount == 500
    rest = await sandbox.client.v1.refunds.create_async(params={"charge": str(intent.latest_charge)})
    assert rest.amount == 1500
    charge = await sandbox.client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert charge.refunded and charge.amount_refunded == 2000
    assert (await sandbox.event_types(type="charge.refunded")).count("charge.refunded") == 2
    assert len((await sandbox.client.v1.refunds.list_async(params={"charge": charge.id})).data) == 2


async def test_refund_larger_than_what_remains_is_refused(sandbox: Harness) -> None:
    intent = await pay(sandbox)
    await sandbox.client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await sandbox.client.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 600})
    assert raised.value.param == "amount"
    charge = await sandbox.client.v1.charges.retrieve_async(str(intent.latest_charge))
    assert charge.amount_refunded == 1500


async def test_refunding_a_fully_refunded_charge_is_refused(sandbox: Harness) -> None:
    intent = await pay(sandbox)
    await sandbox.client.v1.refunds.create_async(params={"payment_intent": intent.id})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await sandbox.client.v1.refunds.create_async(params={"payment_intent": intent.id})
    assert raised.value.code == "charge_already_refunded"


async def test_dispute_card_opens_a_dispute_after_payment(sandbox: Harness) -> None:
    intent = await pay(sandbox, "pm_card_createDispute")
    assert intent.status == "succeeded"
    disputes = await sandbox.client.v1.disputes.list_async(params={"charge": str(intent.latest_charge)})
    assert len(disputes.data) == 1 and disputes.data[0].status == "needs_response"
    assert "charge.dispute.created" in await sandbox.event_types()
    assert (await sandbox.client.v1.charges.retrieve_async(str(intent.latest_charge))).disputed


async def test_sandbox_helper_disputes_any_charge(sandbox: Harness) -> None:
    intent = await pay(sandbox)
    response = await sandbox.api(
        "POST",
        "/v1/test_helpers/sandbox/disputes",
        charge=str(intent.latest_charge),
        reason="product_not_received",
    )
    assert response.status_code == 200
    dispute = await sandbox.client.v1.disputes.retrieve_async(response.json()["id"])
    assert dispute.reason == "product_not_received" and dispute.amount == 2000


async def test_setup_intent_saves_the_card_to_the_customer(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    intent = await sandbox.client.v1.setup_intents.create_async(
        params={
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "usage": "off_session",
        }
    )
    assert intent.status == "succeeded"
    methods = await sandbox.client.v1.payment_methods.list_async(params={"customer": customer.id})
    assert [m.id for m in methods.data] == [intent.payment_method]
    types = await sandbox.event_types()
    assert types.index("setup_intent.created") < types.index("setup_intent.succeeded")
    assert "payment_method.attached" in types


async def test_setup_intent_with_declining_card_fails(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    intent = await sandbox.client.v1.setup_intents.create_async(params={"customer": customer.id})
    with pytest.raises(stripe.CardError):
        await sandbox.client.v1.setup_intents.confirm_async(
            intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    after = await sandbox.client.v1.setup_intents.retrieve_async(intent.id)
    assert after.status == "requires_payment_method" and after.last_setup_error is not None

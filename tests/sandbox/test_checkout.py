"""The hosted checkout page, driven over plain HTTP, and the signed events it produces."""

from __future__ import annotations

import json
import re

import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import TOKEN, make_checkout, make_customer, make_price, submit_card

SUBSCRIPTION_CHECKOUT_EVENTS = {
    "customer.created",
    "payment_method.attached",
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "payment_intent.created",
    "payment_intent.succeeded",
    "charge.succeeded",
}


async def test_subscription_checkout_over_http_delivers_signed_events(sandbox: Harness) -> None:
    secret = await sandbox.add_endpoint()
    price = await make_price(sandbox, amount=1500)
    session = await make_checkout(
        sandbox,
        price,
        client_reference_id="user-7",
        metadata={"cart": "c1"},
        subscription_data={"metadata": {"plan": "pro"}},
    )
    page = await sandbox.http.get(str(session.url))
    assert "$15.00" in page.text and 'name="card_number"' in page.text

    response = await submit_card(sandbox, str(session.url), "4242 4242 4242 4242")

    assert response.status_code == 303
    assert response.headers["location"] == f"https://shop.example/success?session={session.id}"
    await sandbox.wait_for(
        lambda: (
            {d.payload and json.loads(d.payload)["type"] for d in sandbox.receiver.deliveries}
            >= SUBSCRIPTION_CHECKOUT_EVENTS
        )
    )
    events = [
        stripe.Webhook.construct_event(d.payload, d.signature, secret) for d in sandbox.receiver.deliveries
    ]
    completed = next(e for e in events if e.type == "checkout.session.completed")
    assert completed.data.object.client_reference_id == "user-7"
    assert completed.data.object.metadata.to_dict() == {"cart": "c1"}
    assert completed.request.id is None  # a customer on the hosted page, not an API request  # type: ignore[union-attr]
    sub = await sandbox.client.v1.subscriptions.retrieve_async(completed.data.object.subscription)
    assert sub.status == "active" and sub.metadata.to_dict() == {"plan": "pro"}
    invoice = await sandbox.client.v1.invoices.retrieve_async(str(sub.latest_invoice))
    assert invoice.status == "paid" and invoice.billing_reason == "subscription_create"
    assert invoice.parent.subscription_details.metadata.to_dict() == {"plan": "pro"}  # type: ignore[union-attr]


async def test_signature_does_not_verify_with_another_secret(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await make_customer(sandbox)
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)
    delivery = sandbox.receiver.deliveries[0]
    try:
        stripe.Webhook.construct_event(delivery.payload, delivery.signature, "whsec_wrong")
    except stripe.SignatureVerificationError:
        return
    raise AssertionError("a wrong secret verified")


async def test_declined_card_shows_the_message_and_keeps_the_session_open(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    response = await submit_card(sandbox, str(session.url), "4000000000000002")
    assert response.status_code == 402
    assert "Your card was declined." in response.text
    after = await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)
    assert after.status == "open" and after.subscription is None


async def _authenticate(h: Harness, session_url: str, outcome: str) -> object:
    challenge = await submit_card(h, session_url, "4000002500003155")
    assert challenge.status_code == 200 and "Complete authentication" in challenge.text
    token = TOKEN.search(challenge.text)
    assert token is not None
    return await h.http.post(
        f"{session_url}/authenticate", data={"form_token": token.group(1), "outcome": outcome}
    )


async def test_3ds_card_approved_on_the_page_completes_checkout(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    response = await _authenticate(sandbox, str(session.url), "approve")
    assert response.status_code == 303  # type: ignore[attr-defined]
    after = await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)
    assert after.status == "complete" and after.payment_status == "paid"


async def test_3ds_card_failed_on_the_page_leaves_the_session_open(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    response = await _authenticate(sandbox, str(session.url), "fail")
    assert response.status_code == 402  # type: ignore[attr-defined]
    assert "unable to authenticate" in response.text  # type: ignore[attr-defined]
    assert (await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"


async def test_form_without_the_session_token_cannot_pay(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    response = await sandbox.http.post(
        f"{session.url}/pay",
        data={
            "form_token": "forged",
            "card_number": "4242424242424242",
            "exp": "12/34",
            "cvc": "123",
            "email": "x@example.com",
        },
    )
    assert response.status_code == 403
    assert (await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"


async def test_page_links_to_cancel_url(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    page = await sandbox.http.get(str(session.url))
    assert re.search(r'href="https://shop.example/cancel"', page.text)


async def test_expired_session_says_so_and_emits_expired(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    expired = await sandbox.client.v1.checkout.sessions.expire_async(session.id)
    assert expired.status == "expired"
    page = await sandbox.http.get(f"{sandbox.base}/checkout/{session.id}")
    assert "expired" in page.text and 'name="card_number"' not in page.text
    assert "checkout.session.expired" in await sandbox.event_types()


async def test_session_expires_at_expires_at_under_the_clock(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    clock = (await sandbox.api("GET", "/v1/test_helpers/sandbox/clock")).json()
    session = await make_checkout(sandbox, price, expires_at=clock["now"] + 3600)
    await sandbox.advance(hours=2)
    assert "checkout.session.expired" in await sandbox.event_types()
    assert (await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)).status == "expired"


async def test_completed_session_page_says_it_is_complete(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    await submit_card(sandbox, str(session.url), "4242424242424242")
    page = await sandbox.http.get(str(session.url))
    assert "complete" in page.text and 'name="card_number"' not in page.text


async def test_payment_mode_carries_payment_intent_metadata(sandbox: Harness) -> None:
    price = await make_price(sandbox, amount=4900, interval=None)
    session = await make_checkout(
        sandbox, price, mode="payment", payment_intent_data={"metadata": {"order": "9"}}
    )
    response = await submit_card(sandbox, str(session.url), "4242424242424242")
    assert response.status_code == 303
    done = await sandbox.client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["payment_intent", "line_items"]}
    )
    intent = done.payment_intent
    assert intent.status == "succeeded" and intent.amount == 4900  # type: ignore[union-attr]
    assert intent.metadata.to_dict() == {"order": "9"}  # type: ignore[union-attr]
    assert done.customer is None and done.customer_details.email == "ada@example.com"  # type: ignore[union-attr]
    assert done.line_items.data[0].amount_total == 4900  # type: ignore[union-attr]


async def test_payment_mode_refuses_recurring_prices(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    try:
        await make_checkout(sandbox, price, mode="payment")
    except stripe.InvalidRequestError as error:
        assert error.param == "line_items"
        return
    raise AssertionError("a recurring price was accepted in payment mode")


async def test_setup_mode_saves_a_card_for_an_existing_customer(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    session = await sandbox.client.v1.checkout.sessions.create_async(
        params={
            "mode": "setup",
            "customer": customer.id,
            "currency": "usd",
            "success_url": "https://shop.example/ok",
        }
    )
    response = await submit_card(sandbox, str(session.url), "4242424242424242")
    assert response.status_code == 303
    done = await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)
    intent = await sandbox.client.v1.setup_intents.retrieve_async(str(done.setup_intent))
    assert intent.status == "succeeded" and intent.customer == customer.id
    types = await sandbox.event_types()
    assert {"setup_intent.created", "setup_intent.succeeded", "checkout.session.completed"} <= set(types)


async def test_existing_customer_is_reused_and_not_asked_for_email(sandbox: Harness) -> None:
    customer = await make_customer(sandbox, "known@example.com")
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price, customer=customer.id)
    page = await sandbox.http.get(str(session.url))
    assert 'name="email"' not in page.text and "known@example.com" in page.text
    await submit_card(sandbox, str(session.url), "4242424242424242")
    assert (await sandbox.event_types()).count("customer.created") == 1


async def test_line_items_list_expands_the_product(sandbox: Harness) -> None:
    price = await make_price(sandbox, name="Starter")
    session = await make_checkout(sandbox, price)
    items = await sandbox.client.v1.checkout.sessions.line_items.list_async(
        session.id, params={"expand": ["data.price.product"]}
    )
    assert items.data[0].price.product.name == "Starter"  # type: ignore[union-attr]


async def test_one_time_items_are_billed_on_the_first_subscription_invoice(sandbox: Harness) -> None:
    monthly = await make_price(sandbox, amount=1000)
    setup_fee = await make_price(sandbox, amount=2500, interval=None, name="Setup fee")
    session = await make_checkout(
        sandbox,
        monthly,
        line_items=[{"price": monthly.id, "quantity": 1}, {"price": setup_fee.id, "quantity": 1}],
    )
    page = await sandbox.http.get(str(session.url))
    assert "$35.00" in page.text
    await submit_card(sandbox, str(session.url), "4242424242424242")
    done = await sandbox.client.v1.checkout.sessions.retrieve_async(
        session.id, params={"expand": ["invoice"]}
    )
    assert done.invoice.amount_paid == 3500  # type: ignore[union-attr]
    assert sorted(line.amount for line in done.invoice.lines.data) == [1000, 2500]  # type: ignore[union-attr]


async def test_trial_checkout_needs_no_payment(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price, subscription_data={"trial_period_days": 7})
    await submit_card(sandbox, str(session.url), "4242424242424242")
    done = await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)
    assert done.payment_status == "no_payment_required"


async def test_email_is_required_when_the_session_has_no_customer(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    session = await make_checkout(sandbox, price)
    response = await submit_card(sandbox, str(session.url), "4242424242424242", email=None)
    assert response.status_code == 400 and "Enter your email address." in response.text
    assert (await sandbox.client.v1.checkout.sessions.retrieve_async(session.id)).status == "open"

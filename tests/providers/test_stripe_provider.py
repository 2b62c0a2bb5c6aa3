"""``StripeProvider`` against the running sandbox: the SDK over real HTTP, mapped to our classes."""

from __future__ import annotations

import pytest

from billhook.errors import NotFound, ProviderError
from billhook.providers.base import PaymentProvider
from billhook.providers.stripe import StripeProvider, build_provider
from tests.support.databases import make_settings
from tests.support.inbox import SandboxWithReceiver, Shop


async def test_customer_and_payment_method(provider: StripeProvider, shop: Shop) -> None:
    customer = await shop.customer("grace@example.com")
    card = await shop.card(customer.id)
    got = await provider.get_customer(customer.id)
    assert (got.id, got.email, got.name, got.deleted) == (customer.id, "grace@example.com", "Ada", False)
    method = await provider.get_payment_method(card.id)
    assert (method.customer_id, method.brand, method.last4) == (customer.id, "visa", "4242")
    assert method.exp_month is not None and method.exp_year is not None
    assert "number" not in str(method)


async def test_subscription_with_items_periods_and_its_invoice(provider: StripeProvider, shop: Shop) -> None:
    sub = await shop.subscribe()
    got = await provider.get_subscription(sub.id)
    assert got.status == "active"
    item = got.first_item
    assert item is not None and item.price_id.startswith("price_") and item.product_id
    assert got.current_period_start is not None and got.current_period_end is not None
    assert got.current_period_end > got.current_period_start
    assert got.latest_invoice_id
    invoice = await provider.get_invoice(got.latest_invoice_id)
    assert (invoice.status, invoice.subscription_id, invoice.customer_id) == ("paid", sub.id, got.customer_id)
    assert invoice.amount_paid == 1500 and invoice.paid_at is not None
    assert invoice.payment_intent_id and invoice.payment_intent_id.startswith("pi_")


async def test_payment_intent_charge_refund_and_dispute(provider: StripeProvider, shop: Shop) -> None:
    intent = await shop.pay(2500)
    got = await provider.get_payment_intent(intent.id)
    assert (got.status, got.amount, got.amount_received) == ("succeeded", 2500, 2500)
    assert got.latest_charge_id
    refund = await shop.v1.refunds.create_async(params={"payment_intent": intent.id, "amount": 1000})
    charge = await provider.get_charge(got.latest_charge_id)
    assert (charge.status, charge.amount_refunded, charge.refunded) == ("succeeded", 1000, False)
    assert [r.id for r in charge.refunds] == [refund.id]
    mapped = await provider.get_refund(refund.id)
    assert (mapped.amount, mapped.charge_id, mapped.status) == (1000, charge.id, "succeeded")
    response = await shop.client.v1.disputes.list_async()
    assert response.data == []


async def test_a_declined_payment_reads_as_failed(provider: StripeProvider, shop: Shop) -> None:
    customer = await shop.customer()
    intent = await shop.v1.payment_intents.create_async(
        params={"amount": 900, "currency": "usd", "customer": customer.id}
    )
    with pytest.raises(Exception):  # noqa: B017 (the SDK raises its CardError; we read the state after)
        await shop.v1.payment_intents.confirm_async(
            intent.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    got = await provider.get_payment_intent(intent.id)
    assert got.status == "requires_payment_method" and got.failure_message
    assert got.latest_charge_id
    charge = await provider.get_charge(got.latest_charge_id)
    assert charge.status == "failed" and charge.failure_code


async def test_setup_intent_and_events(provider: StripeProvider, shop: Shop) -> None:
    customer = await shop.customer()
    setup = await shop.v1.setup_intents.create_async(
        params={"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True}
    )
    got = await provider.get_setup_intent(setup.id)
    assert (got.status, got.customer_id) == ("succeeded", customer.id) and got.payment_method_id
    page = await provider.list_events(types=["customer.created"])
    assert [e.type for e in page.events] == ["customer.created"]
    event = await provider.retrieve_event(page.events[0].id)
    assert event.object_id == customer.id and event.raw["data"]["object"]["id"] == customer.id


async def test_events_page_newest_first_with_starting_after(provider: StripeProvider, shop: Shop) -> None:
    for n in range(5):
        await shop.customer(f"c{n}@example.com")
    first = await provider.list_events(types=["customer.created"], limit=2)
    assert first.has_more and len(first.events) == 2
    rest = await provider.list_events(
        types=["customer.created"], limit=10, starting_after=first.events[-1].id
    )
    ids = [e.id for e in first.events + rest.events]
    assert len(ids) == len(set(ids)) == 5
    assert [e.created for e in first.events + rest.events] == sorted(
        (e.created for e in first.events + rest.events), reverse=True
    )


async def test_unknown_ids_are_not_found_and_refusals_are_provider_errors(provider: StripeProvider) -> None:
    with pytest.raises(NotFound):
        await provider.get_subscription("sub_missing")
    with pytest.raises(NotFound):
        await provider.get_customer("cus_missing")
    with pytest.raises(ProviderError) as refused:
        await provider.list_events(limit=1000)
    assert refused.value.status_code == 502 and refused.value.message


async def test_an_unreachable_provider_is_a_provider_error() -> None:
    provider = StripeProvider("sk_test_x", "http://127.0.0.1:9", max_network_retries=0)
    with pytest.raises(ProviderError):
        await provider.get_customer("cus_1")


async def test_build_provider_reaches_the_sandbox_without_a_key(
    sandbox: SandboxWithReceiver, shop: Shop
) -> None:
    customer = await shop.customer("lin@example.com")
    settings = make_settings("sqlite:///unused.db", stripe_api_base=sandbox.api_base)
    provider = build_provider(settings)
    assert isinstance(provider, PaymentProvider)
    assert (await provider.get_customer(customer.id)).email == "lin@example.com"


async def test_build_provider_uses_the_configured_key(sandbox: SandboxWithReceiver) -> None:
    settings = make_settings(
        "sqlite:///unused.db", stripe_secret_key="rk_wrong", stripe_api_base=sandbox.api_base
    )
    with pytest.raises(ProviderError):  # the sandbox refuses a key that is not sk_test_
        await build_provider(settings).get_customer("cus_1")

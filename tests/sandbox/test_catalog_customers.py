"""Products, prices (lookup keys, filters, search), customers and payment methods."""

from __future__ import annotations

import pytest
import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_customer, make_price, make_product


async def test_recurring_and_one_time_prices(sandbox: Harness) -> None:
    monthly = await make_price(sandbox, amount=1500, interval="month")
    once = await make_price(sandbox, amount=4900, interval=None)
    assert monthly.type == "recurring" and monthly.recurring.interval == "month"  # type: ignore[union-attr]
    assert once.type == "one_time" and once.recurring is None
    assert str(once.unit_amount_decimal) == "4900"


async def test_prices_list_by_lookup_keys(sandbox: Harness) -> None:
    pro = await make_price(sandbox, lookup_key="pro_monthly")
    await make_price(sandbox, lookup_key="team_monthly")
    found = await sandbox.client.v1.prices.list_async(params={"lookup_keys": ["pro_monthly"]})
    assert [p.id for p in found.data] == [pro.id]


async def test_lookup_key_is_unique_unless_transferred(sandbox: Harness) -> None:
    first = await make_price(sandbox, lookup_key="pro")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await make_price(sandbox, lookup_key="pro")
    assert raised.value.param == "lookup_key"
    product = await make_product(sandbox)
    second = await sandbox.client.v1.prices.create_async(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
            "lookup_key": "pro",
            "transfer_lookup_key": True,
        }
    )
    assert second.lookup_key == "pro"
    assert (await sandbox.client.v1.prices.retrieve_async(first.id)).lookup_key is None


async def test_archived_prices_are_filtered_by_active(sandbox: Harness) -> None:
    old = await make_price(sandbox)
    current = await make_price(sandbox)
    await sandbox.client.v1.prices.update_async(old.id, params={"active": False})
    active = await sandbox.client.v1.prices.list_async(params={"active": True})
    assert [p.id for p in active.data] == [current.id]


async def test_price_search_by_lookup_key(sandbox: Harness) -> None:
    price = await make_price(sandbox, lookup_key="gold")
    await make_price(sandbox, lookup_key="silver")
    result = await sandbox.client.v1.prices.search_async(
        params={"query": "lookup_key:'gold' AND active:'true'"}
    )
    assert [p.id for p in result.data] == [price.id]


async def test_customer_update_merges_metadata(sandbox: Harness) -> None:
    customer = await make_customer(sandbox, metadata={"user_id": "7", "plan": "free"})
    updated = await sandbox.client.v1.customers.update_async(
        customer.id, params={"name": "Ada Lovelace", "metadata": {"plan": ""}}
    )
    assert updated.name == "Ada Lovelace"
    assert updated.metadata.to_dict() == {"user_id": "7"}


async def test_customers_list_by_email(sandbox: Harness) -> None:
    ada = await make_customer(sandbox, "ada@example.com")
    await make_customer(sandbox, "bob@example.com")
    found = await sandbox.client.v1.customers.list_async(params={"email": "ada@example.com"})
    assert [c.id for c in found.data] == [ada.id]


async def test_deleted_customer_reads_back_as_deleted(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    deleted = await sandbox.client.v1.customers.delete_async(customer.id)
    assert deleted.deleted is True
    again = await sandbox.client.v1.customers.retrieve_async(customer.id)
    assert again.to_dict().get("deleted") is True
    assert "customer.deleted" in await sandbox.event_types()


async def test_payment_methods_attach_list_and_detach(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    pm = await sandbox.client.v1.payment_methods.create_async(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    assert pm.card.last4 == "4242" and pm.customer is None  # type: ignore[union-attr]
    await sandbox.client.v1.payment_methods.attach_async(pm.id, params={"customer": customer.id})
    listed = await sandbox.client.v1.payment_methods.list_async(
        params={"customer": customer.id, "type": "card"}
    )
    assert [p.id for p in listed.data] == [pm.id]
    detached = await sandbox.client.v1.payment_methods.detach_async(pm.id)
    assert detached.customer is None
    types = await sandbox.event_types()
    assert types[-2:] == ["payment_method.attached", "payment_method.detached"]


async def test_magic_payment_method_ids_make_fresh_cards(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    attached = await sandbox.client.v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": customer.id}
    )
    assert attached.id.startswith("pm_") and attached.id != "pm_card_visa"
    assert attached.customer == customer.id


async def test_declining_card_cannot_be_attached(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    with pytest.raises(stripe.CardError) as raised:
        await sandbox.client.v1.payment_methods.attach_async(
            "pm_card_chargeDeclined", params={"customer": customer.id}
        )
    assert raised.value.code == "card_declined"


async def test_invalid_card_number_is_a_card_error(sandbox: Harness) -> None:
    with pytest.raises(stripe.CardError) as raised:
        await sandbox.client.v1.payment_methods.create_async(
            params={"type": "card", "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2034}}
        )
    assert raised.value.code == "incorrect_number"

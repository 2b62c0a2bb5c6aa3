"""Plan changes with prorations, the preview invoice, and the hosted billing portal."""

from __future__ import annotations

import re

import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import TOKEN, make_price, subscribe
from tests.support.stripe_shapes import assert_shaped

DAY = 86_400


async def _switch(
    h: Harness, sub: stripe.Subscription, price: stripe.Price, behaviour: str
) -> stripe.Subscription:
    return await h.client.v1.subscriptions.update_async(
        sub.id,
        params={
            "items": [{"id": sub["items"].data[0].id, "price": price.id}],
            "proration_behavior": behaviour,
        },
    )


async def test_create_prorations_adds_pending_items_to_the_next_invoice(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000, name="Pro+")
    sub = await subscribe(sandbox, basic)
    await sandbox.advance(days=10)
    switched = await _switch(sandbox, sub, pro, "create_prorations")
    assert switched["items"].data[0].price.id == pro.id
    pending = await sandbox.client.v1.invoice_items.list_async(params={"pending": True})
    assert len(pending.data) == 2 and all(item.proration for item in pending.data)
    assert_shaped("invoiceitem", pending.data[0])
    net = sum(item.amount for item in pending.data)
    assert 0 < net < 2000
    await sandbox.advance(days=25)
    renewal = (await sandbox.client.v1.invoices.list_async(params={"subscription": sub.id})).data[0]
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.amount_paid == 3000 + net
    assert sum(1 for line in renewal.lines.data if line.parent.subscription_item_details.proration) == 2  # type: ignore[union-attr]


async def test_always_invoice_bills_the_difference_at_once(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000)
    sub = await subscribe(sandbox, basic)
    await sandbox.advance(days=15)
    switched = await _switch(sandbox, sub, pro, "always_invoice")
    invoice = await sandbox.client.v1.invoices.retrieve_async(str(switched.latest_invoice))
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert 0 < invoice.amount_paid < 2000


async def test_none_changes_price_without_prorations(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000)
    sub = await subscribe(sandbox, basic)
    await _switch(sandbox, sub, pro, "none")
    assert (await sandbox.client.v1.invoice_items.list_async(params={"pending": True})).data == []


async def test_preview_shows_the_proration_before_changing(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000)
    sub = await subscribe(sandbox, basic)
    start = sub["items"].data[0].current_period_start
    end = sub["items"].data[0].current_period_end
    at = start + (end - start) // 2
    preview = await sandbox.client.v1.invoices.create_preview_async(
        params={
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub["items"].data[0].id, "price": pro.id}],
                "proration_behavior": "always_invoice",
                "proration_date": at,
            },
        }
    )
    assert preview.id.startswith("upcoming_")  # type: ignore[union-attr]
    assert [line.amount for line in preview.lines.data] == [-500, 1500]
    assert preview.amount_due == 1000
    unchanged = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert unchanged["items"].data[0].price.id == basic.id


async def test_preview_of_next_cycle_includes_the_new_price(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000)
    sub = await subscribe(sandbox, basic)
    preview = await sandbox.client.v1.invoices.create_preview_async(
        params={
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub["items"].data[0].id, "price": pro.id}],
                "proration_behavior": "none",
            },
        }
    )
    assert [line.amount for line in preview.lines.data] == [3000]


async def test_switching_interval_resets_the_anchor_and_invoices_now(sandbox: Harness) -> None:
    monthly = await make_price(sandbox, amount=1000)
    yearly = await make_price(sandbox, amount=10000, interval="year")
    sub = await subscribe(sandbox, monthly)
    switched = await _switch(sandbox, sub, yearly, "create_prorations")
    item = switched["items"].data[0]
    assert item.current_period_end - item.current_period_start >= 365 * DAY
    invoice = await sandbox.client.v1.invoices.retrieve_async(str(switched.latest_invoice))
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"


async def portal_page(h: Harness, customer: str) -> tuple[str, str, str]:
    session = await h.client.v1.billing_portal.sessions.create_async(
        params={"customer": customer, "return_url": "https://shop.example/account"}
    )
    page = await h.http.get(session.url)
    token = TOKEN.search(page.text)
    assert page.status_code == 200 and token is not None
    return session.url, page.text, token.group(1)


async def test_portal_shows_plan_card_and_return_link(sandbox: Harness) -> None:
    price = await make_price(sandbox, name="Starter")
    sub = await subscribe(sandbox, price)
    _, page, _ = await portal_page(sandbox, str(sub.customer))
    assert "Starter" in page and "ending in 4242" in page
    assert 'href="https://shop.example/account"' in page


async def test_portal_switch_shows_the_proration_then_applies_it(sandbox: Harness) -> None:
    basic, pro = await make_price(sandbox, amount=1000), await make_price(sandbox, amount=3000, name="Pro+")
    sub = await subscribe(sandbox, basic)
    await sandbox.advance(days=10)
    url, _, token = await portal_page(sandbox, str(sub.customer))
    preview = await sandbox.http.post(
        f"{url}/subscriptions/{sub.id}/preview", data={"form_token": token, "price": pro.id}
    )
    shown = re.search(r'id="proration">([^<]+)<', preview.text)
    assert preview.status_code == 200 and shown is not None
    assert sub.status == "active"
    confirmed = await sandbox.http.post(
        f"{url}/subscriptions/{sub.id}/switch", data={"form_token": token, "price": pro.id}
    )
    assert confirmed.status_code == 303
    after = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert after["items"].data[0].price.id == pro.id
    pending = await sandbox.client.v1.invoice_items.list_async(params={"pending": True})
    total = sum(item.amount for item in pending.data)
    assert shown.group(1) == f"${total / 100:,.2f}"


async def test_portal_cancel_and_resume(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    url, _, token = await portal_page(sandbox, str(sub.customer))
    await sandbox.http.post(f"{url}/subscriptions/{sub.id}/cancel", data={"form_token": token})
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).cancel_at_period_end
    page = await sandbox.http.get(url)
    assert "Resume subscription" in page.text
    await sandbox.http.post(f"{url}/subscriptions/{sub.id}/resume", data={"form_token": token})
    assert not (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).cancel_at_period_end


async def test_portal_update_card_becomes_the_default(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price, card="4000000000000341")
    url, _, token = await portal_page(sandbox, str(sub.customer))
    response = await sandbox.http.post(
        f"{url}/card",
        data={"form_token": token, "card_number": "5555555555554444", "exp": "11/33", "cvc": "123"},
    )
    assert response.status_code == 303
    after = await sandbox.client.v1.subscriptions.retrieve_async(
        sub.id, params={"expand": ["default_payment_method"]}
    )
    assert after.default_payment_method.card.last4 == "4444"  # type: ignore[union-attr]
    await sandbox.advance(days=32)
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "active"


async def test_portal_refuses_forged_forms(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    url, _, _ = await portal_page(sandbox, str(sub.customer))
    response = await sandbox.http.post(f"{url}/subscriptions/{sub.id}/cancel", data={"form_token": "forged"})
    assert response.status_code == 403
    assert not (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).cancel_at_period_end


async def test_portal_of_a_deleted_customer_says_so(sandbox: Harness) -> None:
    customer = await sandbox.client.v1.customers.create_async(params={"email": "gone@example.com"})
    session = await sandbox.client.v1.billing_portal.sessions.create_async(params={"customer": customer.id})
    await sandbox.client.v1.customers.delete_async(customer.id)
    page = await sandbox.http.get(session.url)
    assert page.status_code == 404 and "No such customer" in page.text

"""Stripe's test clocks through the official SDK: create, retrieve, list, advance, delete, and a
customer created on a clock renews when that clock is advanced, and only then."""

from __future__ import annotations

import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_price
from tests.support.stripe_shapes import assert_shaped

DAY = 86_400


async def now(h: Harness) -> int:
    return int((await h.api("GET", "/v1/test_helpers/sandbox/clock")).json()["now"])


async def customer_on(h: Harness, clock: str | None) -> stripe.Customer:
    params: dict[str, object] = {"email": "clocked@example.com", "payment_method": "pm_card_visa"}
    if clock:
        params["test_clock"] = clock
    return await h.client.v1.customers.create_async(params=params)  # type: ignore[arg-type]


async def subscription_of(h: Harness, customer: stripe.Customer, price: stripe.Price) -> stripe.Subscription:
    methods = await h.client.v1.payment_methods.list_async(params={"customer": customer.id, "type": "card"})
    return await h.client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "default_payment_method": methods.data[0].id,
        }
    )


async def cycle_invoices(h: Harness, sub: stripe.Subscription) -> list[stripe.Invoice]:
    found = await h.client.v1.invoices.list_async(params={"subscription": sub.id, "limit": 100})
    return [invoice for invoice in found.data if invoice.billing_reason == "subscription_cycle"]


async def test_a_clock_has_stripes_shape_and_is_listed_retrieved_and_deleted(sandbox: Harness) -> None:
    start = await now(sandbox)
    clock = await sandbox.client.v1.test_helpers.test_clocks.create_async(
        params={"frozen_time": start, "name": "renewals"}
    )
    assert_shaped("test_helpers.test_clock", clock)
    assert (clock.object, clock.status, clock.frozen_time, clock.name) == (
        "test_helpers.test_clock",
        "ready",
        start,
        "renewals",
    )
    assert clock.id.startswith("clock_") and clock.deletes_after == clock.created + 30 * DAY
    assert (await sandbox.client.v1.test_helpers.test_clocks.retrieve_async(clock.id)).id == clock.id
    listed = await sandbox.client.v1.test_helpers.test_clocks.list_async()
    assert [c.id for c in listed.data] == [clock.id]
    deleted = await sandbox.client.v1.test_helpers.test_clocks.delete_async(clock.id)
    assert deleted.deleted is True
    assert (await sandbox.client.v1.test_helpers.test_clocks.list_async()).data == []


async def test_advancing_a_clock_renews_its_customers_only(sandbox: Harness) -> None:
    start = await now(sandbox)
    price = await make_price(sandbox, amount=1500)
    clock = await sandbox.client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": start})
    clocked = await customer_on(sandbox, clock.id)
    assert clocked.test_clock == clock.id
    free = await customer_on(sandbox, None)
    on_clock, off_clock = (
        await subscription_of(sandbox, clocked, price),
        await subscription_of(sandbox, free, price),
    )

    advanced = await sandbox.client.v1.test_helpers.test_clocks.advance_async(
        clock.id, params={"frozen_time": start + 32 * DAY}
    )
    assert (advanced.status, advanced.frozen_time) == ("ready", start + 32 * DAY)
    renewed = await cycle_invoices(sandbox, on_clock)
    assert [(i.status, i.amount_paid) for i in renewed] == [("paid", 1500)]
    assert renewed[0].created == on_clock["items"].data[0].current_period_end  # at the clock's time
    assert await cycle_invoices(sandbox, off_clock) == []
    assert await now(sandbox) < start + DAY  # the sandbox's own clock did not move


async def test_the_sandbox_clock_leaves_clock_customers_alone(sandbox: Harness) -> None:
    start = await now(sandbox)
    price = await make_price(sandbox)
    clock = await sandbox.client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": start})
    on_clock = await subscription_of(sandbox, await customer_on(sandbox, clock.id), price)
    off_clock = await subscription_of(sandbox, await customer_on(sandbox, None), price)
    await sandbox.advance(days=32)
    assert await cycle_invoices(sandbox, on_clock) == []
    assert len(await cycle_invoices(sandbox, off_clock)) == 1


async def test_a_clock_only_moves_forward_and_unknown_clocks_are_404(sandbox: Harness) -> None:
    start = await now(sandbox)
    clock = await sandbox.client.v1.test_helpers.test_clocks.create_async(params={"frozen_time": start})
    backwards = await sandbox.api(
        "POST", f"/v1/test_helpers/test_clocks/{clock.id}/advance", frozen_time=start - 1
    )
    assert backwards.status_code == 400 and backwards.json()["error"]["param"] == "frozen_time"
    missing = await sandbox.api("GET", "/v1/test_helpers/test_clocks/clock_nope")
    assert missing.status_code == 404
    nowhere = await sandbox.api("POST", "/v1/customers", test_clock="clock_nope")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["param"] == "test_clock"

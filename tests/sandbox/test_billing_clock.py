"""Subscriptions under the test clock: renewals, dunning, cancel at period end, trials, plan changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from tests.support.sandbox import Harness, SandboxServer
from tests.support.sandbox_factories import make_price, subscribe


async def invoices_of(h: Harness, sub_id: str) -> list[stripe.Invoice]:
    found = await h.client.v1.invoices.list_async(params={"subscription": sub_id, "limit": 100})
    return list(reversed(found.data))


async def test_renewal_creates_and_charges_a_cycle_invoice(sandbox: Harness) -> None:
    price = await make_price(sandbox, amount=1200)
    sub = await subscribe(sandbox, price)
    first_end = sub["items"].data[0].current_period_end
    await sandbox.advance(days=32)
    renewed = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert renewed.status == "active"
    assert renewed["items"].data[0].current_period_start == first_end
    latest = (await invoices_of(sandbox, sub.id))[-1]
    assert (latest.billing_reason, latest.status, latest.amount_paid) == ("subscription_cycle", "paid", 1200)
    assert latest.lines.data[0].period.start == first_end
    assert latest.period_end == first_end


async def test_renewal_failure_goes_past_due_then_canceled_after_retries(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price, card="4000000000000341")
    assert sub.status == "active"
    await sandbox.advance(days=31)
    failing = (await invoices_of(sandbox, sub.id))[-1]
    assert failing.status == "open" and failing.attempt_count == 1
    assert failing.next_payment_attempt is not None
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "past_due"

    await sandbox.advance(days=3)
    retried = await sandbox.client.v1.invoices.retrieve_async(failing.id)
    assert retried.attempt_count == 2

    await sandbox.advance(days=13)
    final = await sandbox.client.v1.invoices.retrieve_async(failing.id)
    assert final.attempt_count == 4 and final.next_payment_attempt is None
    ended = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert ended.status == "canceled"
    assert ended.cancellation_details.reason == "payment_failed"  # type: ignore[union-attr]
    types = await sandbox.event_types(limit=100)
    assert types.count("invoice.payment_failed") == 4
    assert {"charge.failed", "payment_intent.payment_failed", "customer.subscription.deleted"} <= set(types)


async def test_paying_the_failed_invoice_restores_the_subscription(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price, card="4000000000000341")
    await sandbox.advance(days=31)
    failing = (await invoices_of(sandbox, sub.id))[-1]
    paid = await sandbox.client.v1.invoices.pay_async(failing.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "active"


async def test_cancel_at_period_end_ends_at_period_end(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    updated = await sandbox.client.v1.subscriptions.update_async(
        sub.id, params={"cancel_at_period_end": True}
    )
    assert updated.cancel_at == sub["items"].data[0].current_period_end
    await sandbox.advance(days=20)
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "active"
    await sandbox.advance(days=12)
    ended = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert ended.status == "canceled" and ended.ended_at == updated.cancel_at
    assert len(await invoices_of(sandbox, sub.id)) == 1
    assert "customer.subscription.deleted" in await sandbox.event_types()


async def test_resume_before_period_end_keeps_the_subscription(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    await sandbox.client.v1.subscriptions.update_async(sub.id, params={"cancel_at_period_end": True})
    resumed = await sandbox.client.v1.subscriptions.update_async(
        sub.id, params={"cancel_at_period_end": False}
    )
    assert resumed.cancel_at is None
    await sandbox.advance(days=32)
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "active"


async def test_cancel_now_emits_deleted(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price)
    canceled = await sandbox.client.v1.subscriptions.cancel_async(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    assert (await sandbox.event_types())[-1] == "customer.subscription.deleted"


async def test_trial_warns_three_days_before_and_charges_at_trial_end(sandbox: Harness) -> None:
    price = await make_price(sandbox, amount=900)
    sub = await subscribe(sandbox, price, subscription_data={"trial_period_days": 14})
    assert sub.status == "trialing" and sub.trial_end is not None
    first = (await invoices_of(sandbox, sub.id))[0]
    assert first.amount_due == 0 and first.status == "paid"
    await sandbox.advance(days=10)
    assert "customer.subscription.trial_will_end" not in await sandbox.event_types()
    await sandbox.advance(days=1, hours=1)
    assert "customer.subscription.trial_will_end" in await sandbox.event_types()
    await sandbox.advance(days=4)
    after = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert after.status == "active"
    charged = (await invoices_of(sandbox, sub.id))[-1]
    assert (charged.billing_reason, charged.amount_paid) == ("subscription_cycle", 900)
    assert charged.lines.data[0].period.start == sub.trial_end


async def test_api_created_subscription_with_default_incomplete_waits_for_payment(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    customer = await sandbox.client.v1.customers.create_async(params={"email": "api@example.com"})
    sub = await sandbox.client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
            "expand": ["latest_invoice.confirmation_secret", "latest_invoice.payments"],
        }
    )
    assert sub.status == "incomplete"
    intent_id = sub.latest_invoice.payments.data[0].payment.payment_intent  # type: ignore[union-attr]
    assert sub.latest_invoice.confirmation_secret.client_secret.startswith(intent_id)  # type: ignore[union-attr]
    await sandbox.client.v1.payment_intents.confirm_async(
        intent_id, params={"payment_method": "pm_card_visa"}
    )
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "active"


@pytest.fixture
def unpaid_after_retries(server: SandboxServer) -> Iterator[None]:
    server.config.final_failure_status = "unpaid"
    yield
    server.config.final_failure_status = "canceled"


@pytest.mark.usefixtures("unpaid_after_retries")
async def test_final_failure_can_leave_the_subscription_unpaid(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    sub = await subscribe(sandbox, price, card="4000000000000341")
    await sandbox.advance(days=31 + 3 + 5 + 7 + 1)
    assert (await sandbox.client.v1.subscriptions.retrieve_async(sub.id)).status == "unpaid"


async def test_unpaid_incomplete_subscription_expires_after_23_hours(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    customer = await sandbox.client.v1.customers.create_async(params={"email": "late@example.com"})
    sub = await sandbox.client.v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "payment_behavior": "default_incomplete",
        }
    )
    await sandbox.advance(hours=24)
    expired = await sandbox.client.v1.subscriptions.retrieve_async(sub.id)
    assert expired.status == "incomplete_expired"
    assert (await sandbox.client.v1.invoices.retrieve_async(str(sub.latest_invoice))).status == "void"


async def test_open_invoice_can_be_voided_or_marked_uncollectible(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    first = await subscribe(sandbox, price, card="4000000000000341")
    second = await subscribe(sandbox, price, card="4000000000000341")
    await sandbox.advance(days=31)
    open_one, open_two = [(await invoices_of(sandbox, sub.id))[-1] for sub in (first, second)]
    voided = await sandbox.client.v1.invoices.void_invoice_async(open_one.id)
    assert voided.status == "void" and voided.status_transitions.voided_at is not None
    written_off = await sandbox.client.v1.invoices.mark_uncollectible_async(open_two.id)
    assert written_off.status == "uncollectible"
    with pytest.raises(stripe.InvalidRequestError):
        await sandbox.client.v1.invoices.pay_async(open_one.id)
    types = await sandbox.event_types(type="invoice.*", limit=100)
    assert {"invoice.voided", "invoice.marked_uncollectible"} <= set(types)

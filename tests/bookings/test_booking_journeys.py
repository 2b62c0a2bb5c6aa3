"""Bookings end to end on the sandbox: paid → CONFIRMED with one email each to client and coach
(events delivered three times and out of order), refunds partial then full → CANCELLED, and one
payment record per checkout whatever the order of events."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from billhook.models import OutboxJob
from tests.support.payments import (
    People,
    book,
    booking_payments,
    pay_booking,
    wait_payment,
    wait_status,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _emails_to(stack: Stack, recipient: str, booking_id: str) -> int:
    async with stack.db() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboxJob)
            .where(
                OutboxJob.type == "email.send",
                OutboxJob.key.like(f"email:booking_%:{recipient}:%{booking_id}%"),
            )
        )
    return int(count or 0)


async def test_a_booking_paid_under_duplicate_and_shuffled_events_is_confirmed_once(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    await stack.chaos(duplicate=True, out_of_order=True)
    try:
        started = await pay_booking(stack, people, booking["id"])
        await wait_status(stack, booking["id"], "CONFIRMED")
        # A third delivery of every event about this payment, as a retrying Stripe would send.
        events = await stack.provider.list_events(
            types=["checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"]
        )
        for event in events.events:
            assert (await stack.deliver_again(event.id)).status_code == 200
        await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    finally:
        await stack.chaos(off=True)
    for who in (people.client, people.coach):

        async def requested(email: str = who.email) -> int:
            return await _emails_to(stack, email, booking["id"])

        assert await stack.eventually(requested) >= 1
    payments = await booking_payments(stack, booking["id"])
    assert [p.id for p in payments] == [started["payment_id"]]
    assert payments[0].stripe_payment_intent_id is not None
    for who in (people.client, people.coach):
        assert await _emails_to(stack, who.email, booking["id"]) == 1, who.email


async def test_partial_then_full_refund_moves_the_payment_and_cancels_the_booking(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people, currency="eur")
    started = await pay_booking(stack, people, booking["id"])
    payment_id = started["payment_id"]
    await wait_payment(stack, payment_id, "SUCCEEDED")
    url = f"/api/payments/{payment_id}/refund"

    partial = await stack.http.post(
        url, json={"amount": 1000, "reason": "requested_by_customer"}, headers=people.admin.headers
    )
    assert partial.status_code == 202, partial.text
    assert partial.json()["payment_status"] == "SUCCEEDED"  # the events move it, not the request
    await wait_payment(stack, payment_id, "PARTIALLY_REFUNDED")
    assert (await wait_status(stack, booking["id"], "CONFIRMED")).status == "CONFIRMED"

    too_much = await stack.http.post(
        url, json={"amount": 10_001, "reason": "requested_by_customer"}, headers=people.admin.headers
    )
    assert too_much.status_code == 422, too_much.text
    assert "left to refund" in too_much.json()["error"]["message"]

    full = await stack.http.post(url, json={"reason": "requested_by_customer"}, headers=people.admin.headers)
    assert full.status_code == 202, full.text
    await wait_payment(stack, payment_id, "REFUNDED")
    await wait_status(stack, booking["id"], "CANCELLED")
    detail = await stack.http.get(f"/api/payments/{payment_id}", headers=people.client.headers)
    body = detail.json()
    assert body["amount_refunded"] == 11000 and body["amount_refunded_display"] == "€110.00"
    assert sorted(r["amount"] for r in body["refunds"]) == [1000, 10000]

    again = await stack.http.post(url, json={"reason": "requested_by_customer"}, headers=people.admin.headers)
    assert again.status_code == 202, again.text  # the same request again: replayed, not refused
    assert again.json()["replayed"] is True and again.json()["payment_status"] == "REFUNDED"
    other = {"reason": "requested_by_customer", "request_key": "a-new-request"}
    refused = await stack.http.post(url, json=other, headers=people.admin.headers)
    assert refused.status_code == 409, refused.text


async def test_a_nervous_double_refund_refunds_once(shared_stack: Stack, people: People) -> None:
    stack = shared_stack
    booking = await book(stack, people, currency="usd")
    started = await pay_booking(stack, people, booking["id"])
    payment_id = started["payment_id"]
    await wait_payment(stack, payment_id, "SUCCEEDED")
    body = {"amount": 500, "reason": "requested_by_customer"}
    url = f"/api/payments/{payment_id}/refund"
    first = await stack.http.post(url, json=body, headers=people.admin.headers)
    second = await stack.http.post(url, json=body, headers=people.admin.headers)
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json()["refund"]["id"] == second.json()["refund"]["id"]
    assert second.json()["replayed"] is True
    intent = (await booking_payments(stack, booking["id"]))[0].stripe_payment_intent_id
    assert intent is not None
    refunds = await stack.provider.client.v1.refunds.list_async({"payment_intent": intent})
    assert len(refunds.data) == 1
    refund_id = first.json()["refund"]["id"]

    async def refund_emails() -> int:
        async with stack.db() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxJob)
                .where(
                    OutboxJob.type == "email.send", OutboxJob.key.like(f"email:refund_issued:%:{refund_id}")
                )
            )
        return int(count or 0)

    assert await stack.eventually(refund_emails) == 1

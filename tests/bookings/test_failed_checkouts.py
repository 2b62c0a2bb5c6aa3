"""A declined or abandoned checkout leaves a trace (issue #18, problem 4): a FAILED payment with
the decline reason for a one-time product or a booking; the booking stays PENDING and can be paid
again; the figures of GET /api/payments count the failure."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from billhook.models import Payment
from tests.support.payments import (
    People,
    book,
    booking_payments,
    booking_row,
    wait_checkout_expired,
    wait_status,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
DECLINED = "4000 0000 0000 0002"


async def failed_count(stack: Stack, people: People) -> int:
    figures: dict[str, Any] = (await stack.http.get("/api/payments", headers=people.admin.headers)).json()[
        "stats"
    ]
    return sum(t["count"] for t in figures["totals"] if t["status"] == "FAILED")


async def test_a_declined_booking_checkout_fails_its_payment_and_can_be_paid_again(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    failed_before = await failed_count(stack, people)
    booking = await book(stack, people)
    started = (
        await stack.http.post(
            f"/api/bookings/{booking['id']}/checkout", json={}, headers=people.client.headers
        )
    ).json()
    declined = await stack.pay(started["url"], DECLINED)
    assert declined.status_code == 402

    async def failed() -> list[Payment]:
        return [p for p in await booking_payments(stack, booking["id"]) if p.status == "FAILED"]

    [payment] = await stack.eventually(failed)
    assert payment.failure_code == "card_declined" and payment.failure_message
    assert (await booking_row(stack, booking["id"])).status == "PENDING"
    assert await stack.eventually(lambda: _more(stack, people, failed_before))

    paid = await stack.pay(started["url"])  # the same hosted page, another card
    assert paid.status_code == 303
    await wait_status(stack, booking["id"], "CONFIRMED")
    # The coach's payment history shows the payment for the session they coach.
    history = (await stack.http.get("/api/me/payments", headers=people.coach.headers)).json()
    assert started["payment_id"] in [p["id"] for p in history["items"]]


async def _more(stack: Stack, people: People, before: int) -> bool:
    return await failed_count(stack, people) > before


async def test_a_declined_one_time_purchase_leaves_a_failed_payment(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    checkout = (await stack.checkout(people.client, product_id="pro")).json()
    declined = await stack.pay(checkout["url"], DECLINED)
    assert declined.status_code == 402

    async def failed() -> Payment | None:
        async with stack.db() as session:
            return await session.scalar(
                select(Payment).where(Payment.status == "FAILED", Payment.amount == 9900)
            )

    payment = await stack.eventually(failed)
    assert payment.user_id == (await stack.me(people.client))["id"]
    assert payment.failure_code == "card_declined"


async def test_an_abandoned_booking_checkout_expires_its_payment_and_the_booking_can_be_paid(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    path = f"/api/bookings/{booking['id']}/checkout"
    started = (await stack.http.post(path, json={}, headers=people.client.headers)).json()

    await stack.advance(hours=25)  # past the session's expiry: checkout.session.expired

    [payment] = await wait_checkout_expired(stack, booking["id"])
    assert payment.id == started["payment_id"] and payment.status == "FAILED"
    assert (await booking_row(stack, booking["id"])).status == "PENDING"
    again = await stack.http.post(path, json={}, headers=people.client.headers)
    assert again.status_code == 201 and again.json()["payment_id"] != payment.id

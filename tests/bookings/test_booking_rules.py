"""Booking a coach: who may book, what it costs, and every bad input answered with one clear 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from billhook.models import Payment
from tests.support.payments import (
    People,
    book,
    booking_payments,
    booking_row,
    next_start,
    pay_booking,
    wait_payment,
    wait_status,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _post(stack: Stack, people: People, who: str = "client", **body: Any) -> tuple[int, dict[str, Any]]:
    payload = {"coach_id": people.ids["coach"], "start_at": next_start(), "duration_minutes": 60, **body}
    response = await stack.http.post("/api/bookings", json=payload, headers=people.as_role(who))
    return response.status_code, response.json()


async def test_a_client_books_at_the_catalog_price(shared_stack: Stack, people: People) -> None:
    status, body = await _post(shared_stack, people)
    assert status == 201, body
    assert (body["amount"], body["currency"], body["amount_display"]) == (12000, "usd", "$120.00")
    assert body["status"] == "PENDING" and body["client_id"] == people.ids["client"]
    status, body = await _post(shared_stack, people, currency="EUR")
    assert (status, body["amount"], body["currency"]) == (201, 11000, "eur")


@pytest.mark.parametrize(
    ("who", "body", "field"),
    [
        ("client", {"start_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, "start_at"),
        ("client", {"coach_id": "usr_nobody"}, "coach_id"),
        ("client", {"price": 5000, "currency": "usd"}, "price"),
        ("client", {"currency": "gbp"}, "currency"),
        ("client", {"currency": "dollars"}, "currency"),
        ("client", {"duration_minutes": 5}, "duration_minutes"),
        ("client", {"start_at": "2030-01-01T10:00:00"}, "start_at"),  # no time zone
        ("client", {"unexpected": 1}, "unexpected"),
        ("coach", {"price": 5000, "currency": "usd"}, "client_id"),
        ("coach", {"price": 5000, "client_id": "{client}"}, "currency"),
        ("admin", {"client_id": "usr_nobody"}, "client_id"),
    ],
)
async def test_bad_bookings_are_refused_with_422(
    shared_stack: Stack, people: People, who: str, body: dict[str, Any], field: str
) -> None:
    body = {k: v.format(client=people.ids["client"]) if isinstance(v, str) else v for k, v in body.items()}
    status, answer = await _post(shared_stack, people, who, **body)
    assert status == 422, answer
    assert field in answer["error"]["message"] or field in str(answer["error"]), answer


async def test_the_coach_id_must_name_a_coach(shared_stack: Stack, people: People) -> None:
    status, answer = await _post(shared_stack, people, coach_id=people.ids["other_client"])
    assert status == 422 and "coach_id" in answer["error"]["message"]


async def test_a_coach_cannot_be_booked_twice_at_once(shared_stack: Stack, people: People) -> None:
    start = next_start()
    first, _ = await _post(shared_stack, people, start_at=start)
    second, answer = await _post(shared_stack, people, "other_client", start_at=start)
    assert (first, second) == (201, 409), answer


async def test_a_coach_sets_a_price_in_yen_and_it_is_paid_and_shown_without_decimals(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    status, body = await _post(
        stack, people, "coach", price=5000, currency="jpy", client_id=people.ids["client"]
    )
    assert status == 201, body
    assert body["amount_display"] == "¥5,000"
    started = await pay_booking(stack, people, body["id"])
    assert (started["amount"], started["currency"], started["amount_display"]) == (5000, "jpy", "¥5,000")
    await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    await wait_status(stack, body["id"], "CONFIRMED")
    shown = (
        await stack.http.get(f"/api/payments/{started['payment_id']}", headers=people.client.headers)
    ).json()
    assert (shown["amount"], shown["currency"], shown["amount_display"]) == (5000, "jpy", "¥5,000")


async def test_paying_twice_reuses_the_open_session_and_a_paid_booking_is_409(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    url = f"/api/bookings/{booking['id']}/checkout"
    first = (await stack.http.post(url, json={}, headers=people.client.headers)).json()
    second = (await stack.http.post(url, json={}, headers=people.client.headers)).json()
    assert second["session_id"] == first["session_id"] and second["payment_id"] == first["payment_id"]
    assert second["reused"] is True
    assert (await stack.pay(first["url"])).status_code == 303
    await wait_status(stack, booking["id"], "CONFIRMED")
    again = await stack.http.post(url, json={}, headers=people.client.headers)
    assert again.status_code == 409 and "CONFIRMED" in again.json()["error"]["message"]


async def test_checkout_refuses_foreign_redirects_and_unknown_bookings(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    bad = await stack.http.post(
        f"/api/bookings/{booking['id']}/checkout",
        json={"success_url": "https://evil.example/steal"},
        headers=people.client.headers,
    )
    assert bad.status_code == 422 and "success_url" in bad.json()["error"]["message"]
    unknown = await stack.http.post("/api/bookings/bkg_nope/checkout", json={}, headers=people.client.headers)
    assert unknown.status_code == 404


async def test_a_declined_card_leaves_the_booking_pending_and_a_retry_confirms_it(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = (
        await stack.http.post(
            f"/api/bookings/{booking['id']}/checkout", json={}, headers=people.client.headers
        )
    ).json()
    declined = await stack.pay(started["url"], "4000 0000 0000 0002")
    assert declined.status_code != 303

    async def failed_attempt() -> Payment | None:
        checkout = await stack.provider.get_checkout_session(started["session_id"])
        if checkout.payment_intent_id is None:
            return None
        async with stack.db() as session:
            row = await session.scalar(
                select(Payment).where(Payment.stripe_payment_intent_id == checkout.payment_intent_id)
            )
        return row if row is not None and row.status == "FAILED" else None

    failed = await stack.eventually(failed_attempt)
    assert failed.failure_code == "card_declined"
    assert (await booking_row(stack, booking["id"])).status == "PENDING"
    assert (await stack.pay(started["url"])).status_code == 303
    await wait_status(stack, booking["id"], "CONFIRMED")
    await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    # The mirror's row for the failed attempt was folded into the booking's payment record.
    assert [p.id for p in await booking_payments(stack, booking["id"])] == [started["payment_id"]]
    async with stack.db() as session:
        assert await session.get(Payment, failed.id) is None or failed.id == started["payment_id"]

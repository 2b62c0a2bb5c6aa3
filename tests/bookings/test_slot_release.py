"""An unpaid booking whose checkout ended holds its coach's time no longer (issue #18 follow-up).

A booking keeps its slot for the checkout window after it is booked, while its hosted checkout
is open (even after a card was declined on it: the page can still be paid) and once paid. When
the checkout expires the booking stays PENDING but another client can book that time; the first
client's "pay again" re-checks the slot: 409 if it was taken meanwhile, a new checkout if it is
still free. Through the real routes and the sandbox, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from billhook.errors import ProviderError
from billhook.kit.clock import utcnow
from billhook.models import Booking, Payment
from tests.support.payments import People, booking_payments, next_start, wait_checkout_expired, wait_status
from tests.support.stack import Customer, Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
DECLINED = "4000 0000 0000 0002"


async def book_at(stack: Stack, people: People, who: Customer, start: str) -> httpx.Response:
    body = {"coach_id": people.ids["coach"], "start_at": start, "duration_minutes": 60}
    return await stack.http.post("/api/bookings", json=body, headers=who.headers)


async def booked(stack: Stack, people: People, who: Customer, start: str) -> dict[str, Any]:
    response = await book_at(stack, people, who, start)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def checkout(stack: Stack, who: Customer, booking_id: str) -> httpx.Response:
    return await stack.http.post(f"/api/bookings/{booking_id}/checkout", json={}, headers=who.headers)


async def opened(stack: Stack, who: Customer, booking_id: str) -> dict[str, Any]:
    response = await checkout(stack, who, booking_id)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def expire_checkouts(stack: Stack, *booking_ids: str) -> None:
    """Move the sandbox past the 30 minutes and wait until each checkout's payment is failed."""
    await stack.advance(hours=1)
    for booking_id in booking_ids:
        await wait_checkout_expired(stack, booking_id)


async def booked_ago(stack: Stack, booking_id: str, minutes: int) -> None:
    """Date the booking's creation ``minutes`` back, as if its client had booked then."""
    async with stack.db() as session:
        await session.execute(
            update(Booking)
            .where(Booking.id == booking_id)
            .values(created_at=utcnow() - timedelta(minutes=minutes))
        )
        await session.commit()


def assert_conflict(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict", error
    for word in words:
        assert word in error["message"], error


async def test_a_booking_holds_its_time_until_its_checkout_expires_then_another_client_takes_it(
    shared_stack: Stack, people: People
) -> None:
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")
    await opened(stack, people.client, first["id"])
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")

    await expire_checkouts(stack, first["id"])

    second = await booked(stack, people, people.other_client, start)
    again = await checkout(stack, people.client, first["id"])
    assert_conflict(again, "booked by someone else", "book another time")
    assert again.json()["error"]["booking"] == second["id"]
    # The refused attempt opened nothing: the booking still has its one (expired) payment.
    assert [p.failure_code for p in await booking_payments(stack, first["id"])] == ["checkout_expired"]
    # The one who took the time pays as usual.
    paid = await stack.pay((await opened(stack, people.other_client, second["id"]))["url"])
    assert paid.status_code == 303, paid.text
    await wait_status(stack, second["id"], "CONFIRMED")


async def test_paying_again_succeeds_while_the_time_is_still_free(
    shared_stack: Stack, people: People
) -> None:
    """The other client's overlapping booking expired too: the first one pays; then the other is refused."""
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    await opened(stack, people.client, first["id"])
    await expire_checkouts(stack, first["id"])
    second = await booked(stack, people, people.other_client, start)
    await opened(stack, people.other_client, second["id"])
    await expire_checkouts(stack, second["id"])

    again = await opened(stack, people.client, first["id"])
    paid = await stack.pay(again["url"])
    assert paid.status_code == 303, paid.text
    await wait_status(stack, first["id"], "CONFIRMED")
    assert_conflict(await checkout(stack, people.other_client, second["id"]), "booked by someone else")
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")


async def test_a_declined_card_keeps_the_time_while_the_hosted_page_is_open(
    shared_stack: Stack, people: People
) -> None:
    """The decline fails the payment, but the same page can still be paid: the time stays held
    until the page expires."""
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    started = await opened(stack, people.client, first["id"])
    declined = await stack.pay(started["url"], DECLINED)
    assert declined.status_code == 402

    async def failed() -> list[Payment]:
        return [p for p in await booking_payments(stack, first["id"]) if p.status == "FAILED"]

    [payment] = await stack.eventually(failed)
    assert payment.failure_code == "card_declined"
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")

    await stack.advance(hours=1)
    session = await stack.provider.get_checkout_session(started["session_id"])
    assert session.status == "expired"
    await booked(stack, people, people.other_client, start)


async def test_a_booking_nobody_pays_holds_its_time_only_for_the_checkout_window(
    shared_stack: Stack, people: People
) -> None:
    """With no checkout opened, a booking keeps its time as long as a checkout would stay open
    (30 minutes by default), not for ever: nobody can block a coach's calendar without paying."""
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    await booked_ago(stack, first["id"], minutes=29)
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")

    await booked_ago(stack, first["id"], minutes=31)

    second = await booked(stack, people, people.other_client, start)
    assert_conflict(await book_at(stack, people, people.client, start), "already booked")
    refused = await checkout(stack, people.client, first["id"])
    assert_conflict(refused, "unpaid past its hold", "booked by someone else")
    assert refused.json()["error"]["booking"] == second["id"]
    assert await booking_payments(stack, first["id"]) == []


async def test_a_booking_past_its_window_can_still_be_paid_while_its_time_is_free(
    shared_stack: Stack, people: People
) -> None:
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    await booked_ago(stack, first["id"], minutes=90)

    paid = await stack.pay((await opened(stack, people.client, first["id"]))["url"])

    assert paid.status_code == 303, paid.text
    await wait_status(stack, first["id"], "CONFIRMED")
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")


async def test_with_the_provider_down_an_open_checkout_holds_its_time_until_its_recorded_expiry(
    shared_stack: Stack, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deciding an overlap needs no provider: the record keeps the expiry the checkout opened with."""
    stack, start = shared_stack, next_start()
    first = await booked(stack, people, people.client, start)
    await opened(stack, people.client, first["id"])
    provider = stack.runtime.provider
    assert provider is not None

    async def down(_session_id: str) -> Any:
        raise ProviderError("the payment provider is unavailable")

    monkeypatch.setattr(provider, "get_checkout_session", down)
    assert_conflict(await book_at(stack, people, people.other_client, start), "already booked")

    [payment] = await booking_payments(stack, first["id"])
    async with stack.db() as session:  # as if the 30 minutes had passed
        await session.execute(
            update(Payment)
            .where(Payment.id == payment.id)
            .values(raw={**(payment.raw or {}), "checkout_expires_at": utcnow().isoformat()})
        )
        await session.commit()

    second = await book_at(stack, people, people.other_client, start)
    assert second.status_code == 201, second.text

"""A booking's hosted checkout stays open BILLHOOK_BOOKING_CHECKOUT_MINUTES (30 by default), not
Stripe's 24 hours (issue #18, item 8): the session carries that expires_at, counted from the
provider's clock (so it still opens after the sandbox clock was moved), and when it passes the
payment fails as checkout_expired and the booking can be paid again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from billhook.config import Settings
from billhook.providers.stripe import SANDBOX_SECRET_KEY
from billhook.providers.stripe.actions import checkout_lifetime
from tests.support.payments import People, book, booking_row, wait_checkout_expired
from tests.support.stack import Stack

on_stack = pytest.mark.asyncio(loop_scope="module")
MINUTE = 60


async def sandbox_now(stack: Stack) -> int:
    headers = {"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"}
    response = await stack.http.get("/sandbox/v1/test_helpers/sandbox/clock", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["now"])


async def start(stack: Stack, people: People, booking_id: str) -> dict[str, Any]:
    response = await stack.http.post(
        f"/api/bookings/{booking_id}/checkout", json={}, headers=people.client.headers
    )
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def assert_open_for_thirty_minutes(stack: Stack, people: People) -> dict[str, Any]:
    booking = await book(stack, people)
    before = await sandbox_now(stack)
    started = await start(stack, people, booking["id"])
    after = await sandbox_now(stack)
    session = await stack.provider.get_checkout_session(started["session_id"])
    assert session.status == "open" and session.expires_at is not None
    expires = int(session.expires_at.timestamp())
    # 30 minutes, and at most the one minute of slack Stripe's lower bound gets.
    assert before + 30 * MINUTE <= expires <= after + 31 * MINUTE
    assert started["expires_at"] is not None
    assert started["expires_at"].startswith(session.expires_at.isoformat()[:19])
    return started


@on_stack
async def test_a_booking_checkout_is_open_for_thirty_minutes(shared_stack: Stack, people: People) -> None:
    await assert_open_for_thirty_minutes(shared_stack, people)


@on_stack
async def test_a_booking_checkout_opens_after_the_sandbox_clock_moved(
    shared_stack: Stack, people: People
) -> None:
    """Billhook's clock stays behind the sandbox's: an expires_at from Billhook's clock would be in
    the sandbox's past, and refused as Stripe refuses it."""
    await shared_stack.advance(days=3)
    await assert_open_for_thirty_minutes(shared_stack, people)


@on_stack
async def test_an_expired_booking_checkout_fails_its_payment_and_the_booking_can_be_paid(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = await start(stack, people, booking["id"])

    await stack.advance(hours=1)  # past the 30 minutes, far from Stripe's default 24 hours

    [payment] = await wait_checkout_expired(stack, booking["id"])
    assert payment.id == started["payment_id"] and payment.status == "FAILED"
    assert (await booking_row(stack, booking["id"])).status == "PENDING"
    session = await stack.provider.get_checkout_session(started["session_id"])
    assert session.status == "expired"
    again = await start(stack, people, booking["id"])
    assert again["payment_id"] != payment.id and again["session_id"] != started["session_id"]
    paid = await stack.pay(again["url"])
    assert paid.status_code == 303, paid.text


@pytest.mark.parametrize("minutes", ["29", "1441", "0"])
def test_the_setting_stays_inside_stripes_window(minutes: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_BOOKING_CHECKOUT_MINUTES", minutes)
    with pytest.raises(ValidationError, match="billhook_booking_checkout_minutes"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("minutes", ["30", "1440"])
def test_the_bounds_of_the_window_are_accepted(minutes: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLHOOK_BOOKING_CHECKOUT_MINUTES", minutes)
    assert Settings(_env_file=None).billhook_booking_checkout_minutes == int(minutes)  # type: ignore[call-arg]


def test_a_lifetime_at_a_bound_of_stripes_window_keeps_a_minute_of_slack() -> None:
    assert checkout_lifetime(timedelta(minutes=30)) == timedelta(minutes=31)
    assert checkout_lifetime(timedelta(minutes=45)) == timedelta(minutes=45)
    assert checkout_lifetime(timedelta(hours=24)) == timedelta(hours=24) - timedelta(minutes=1)

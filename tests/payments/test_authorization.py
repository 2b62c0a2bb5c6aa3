"""The authorization matrix: every payment, booking and refund route called as anonymous, another
client, another coach, the coach, the client and an admin. Payments and bookings that a caller
may not see are 404 (not 403), so ids cannot be probed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.payments import People, book, next_start, pay_booking, wait_payment
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROLES = ("anonymous", "other_client", "other_coach", "coach", "client", "admin")


async def _matrix(stack: Stack, people: People, method: str, url: str, body: Any = None) -> dict[str, int]:
    seen = {}
    for role in ROLES:
        response = await stack.http.request(method, url, json=body, headers=people.as_role(role))
        seen[role] = response.status_code
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text
    return seen


def _expect(*codes: int) -> dict[str, int]:
    return dict(zip(ROLES, codes, strict=True))


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


async def test_booking_routes(shared_stack: Stack, people: People, state: dict[str, Any]) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    state["booking"] = booking["id"]
    url = f"/api/bookings/{booking['id']}"
    assert await _matrix(stack, people, "GET", url) == _expect(401, 404, 404, 200, 200, 200)
    assert await _matrix(stack, people, "GET", "/api/bookings") == _expect(401, 200, 200, 200, 200, 200)
    for role, sees in (
        ("other_client", False),
        ("other_coach", False),
        ("coach", True),
        ("client", True),
        ("admin", True),
    ):
        listed = await stack.http.get("/api/bookings", headers=people.as_role(role))
        assert (booking["id"] in {b["id"] for b in listed.json()["items"]}) is sees, role


async def test_creating_a_booking(shared_stack: Stack, people: People) -> None:
    stack = shared_stack
    seen = {}
    for role in ROLES:
        body = {
            "coach_id": people.ids["coach"],
            "client_id": people.ids["client"],
            "start_at": next_start(),
            "duration_minutes": 45,
        }
        seen[role] = (
            await stack.http.post("/api/bookings", json=body, headers=people.as_role(role))
        ).status_code
    # another client may not book for the client; another coach may not book the coach's time
    assert seen == _expect(401, 422, 422, 201, 201, 201)


async def test_paying_a_booking(shared_stack: Stack, people: People, state: dict[str, Any]) -> None:
    url = f"/api/bookings/{state['booking']}/checkout"
    seen = await _matrix(shared_stack, people, "POST", url, {})
    assert seen == _expect(401, 404, 404, 403, 201, 201)  # the admin gets the client's open session


async def test_payment_routes(shared_stack: Stack, people: People) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = await pay_booking(stack, people, booking["id"])
    await wait_payment(stack, started["payment_id"], "SUCCEEDED")
    one = f"/api/payments/{started['payment_id']}"
    assert await _matrix(stack, people, "GET", one) == _expect(401, 404, 404, 200, 200, 200)
    assert await _matrix(stack, people, "GET", "/api/payments") == _expect(401, 403, 403, 403, 403, 200)
    assert await _matrix(stack, people, "GET", "/api/me/payments") == _expect(401, 200, 200, 200, 200, 200)
    refund = {"amount": 100, "reason": "requested_by_customer"}
    assert await _matrix(stack, people, "POST", f"{one}/refund", refund) == _expect(
        401, 404, 404, 403, 403, 202
    )
    unknown = "/api/payments/pay_does_not_exist"
    assert await _matrix(stack, people, "GET", unknown) == _expect(401, 404, 404, 404, 404, 404)
    assert await _matrix(stack, people, "POST", f"{unknown}/refund", refund) == _expect(
        401, 404, 404, 404, 404, 404
    )
    mine = await stack.http.get("/api/me/payments", headers=people.client.headers)
    assert started["payment_id"] in {p["id"] for p in mine.json()["items"]}
    theirs = await stack.http.get("/api/me/payments", headers=people.other_client.headers)
    assert started["payment_id"] not in {p["id"] for p in theirs.json()["items"]}

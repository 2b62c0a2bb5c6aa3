"""The admin payments list (filters, cursor pages, cached statistics), one payment, and refund errors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from billhook.models import Dispute, OutboxJob, Payment
from billhook.payments.actions import alert_admins_of_dispute
from tests.support.payments import People, book, pay_booking, wait_payment
from tests.support.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _admin_get(stack: Stack, people: People, **params: Any) -> Any:
    return await stack.http.get("/api/payments", params=params, headers=people.admin.headers)


@pytest.fixture(scope="module")
def paid() -> dict[str, str]:
    return {}


async def test_an_euro_payment_is_listed_with_its_own_decimals(
    shared_stack: Stack, people: People, paid: dict[str, str]
) -> None:
    stack = shared_stack
    for currency in ("eur", "usd"):
        booking = await book(stack, people, currency=currency)
        started = await pay_booking(stack, people, booking["id"])
        await wait_payment(stack, started["payment_id"], "SUCCEEDED")
        paid[currency] = started["payment_id"]
    listed = (await _admin_get(stack, people, currency="EUR")).json()
    shown = {p["id"]: p for p in listed["items"]}
    assert set(shown) >= {paid["eur"]} and paid["usd"] not in shown
    assert shown[paid["eur"]]["amount_display"] == "€110.00"
    assert all(p["currency"] == "eur" for p in listed["items"])


async def test_filters_and_cursor_pages(shared_stack: Stack, people: People, paid: dict[str, str]) -> None:
    stack = shared_stack
    succeeded = (await _admin_get(stack, people, status="succeeded", user_id=people.ids["client"])).json()
    assert {paid["eur"], paid["usd"]} <= {p["id"] for p in succeeded["items"]}
    assert all(p["status"] == "SUCCEEDED" for p in succeeded["items"])
    seen: list[str] = []
    cursor = None
    while True:
        page = (await _admin_get(stack, people, limit=1, **({"cursor": cursor} if cursor else {}))).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = (await _admin_get(stack, people, limit=100)).json()["items"]
    assert seen == [p["id"] for p in everything] and len(seen) == len(set(seen)) >= 2
    future = (await _admin_get(stack, people, since="2999-01-01T00:00:00Z")).json()
    assert future["items"] == [] and future["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"status": "paid"},
        {"currency": "euro"},
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"since": "yesterday"},
        {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
    ],
)
async def test_bad_filters_are_422(shared_stack: Stack, people: People, params: dict[str, Any]) -> None:
    response = await _admin_get(shared_stack, people, **params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error" and response.json()["error"]["message"]


async def test_statistics_are_cached_and_a_refund_invalidates_them(
    shared_stack: Stack, people: People, paid: dict[str, str]
) -> None:
    stack = shared_stack
    first = (await _admin_get(stack, people)).json()["stats"]
    second = (await _admin_get(stack, people)).json()["stats"]
    assert second["cached"] is True and {**first, "cached": True} == second
    succeeded = {(t["status"], t["currency"]): t for t in second["totals"]}
    assert succeeded["SUCCEEDED", "eur"]["amount"] >= 11000
    assert succeeded["SUCCEEDED", "eur"]["amount_display"].startswith("€")
    assert second["success_rate"] is not None and 0 < second["success_rate"] <= 1
    refund = await stack.http.post(
        f"/api/payments/{paid['eur']}/refund", json={"reason": "duplicate"}, headers=people.admin.headers
    )
    assert refund.status_code == 202, refund.text
    assert (await _admin_get(stack, people)).json()["stats"]["cached"] is False
    await wait_payment(stack, paid["eur"], "REFUNDED")


async def test_refund_errors(shared_stack: Stack, people: People, paid: dict[str, str]) -> None:
    stack = shared_stack
    url = f"/api/payments/{paid['usd']}/refund"
    for body in ({"reason": "because"}, {"amount": 0, "reason": "duplicate"}, {"amount": 1}):
        response = await stack.http.post(url, json=body, headers=people.admin.headers)
        assert response.status_code == 422, (body, response.text)
    booking = await book(stack, people)
    opened = await stack.http.post(
        f"/api/bookings/{booking['id']}/checkout", json={}, headers=people.client.headers
    )
    pending = await stack.http.post(
        f"/api/payments/{opened.json()['payment_id']}/refund",
        json={"reason": "duplicate"},
        headers=people.admin.headers,
    )
    assert pending.status_code == 409 and "PENDING" in pending.json()["error"]["message"]


async def test_a_disputed_payment_is_flagged_and_listed_for_admins(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = await pay_booking(stack, people, booking["id"], card="4000 0000 0000 0259")

    async def disputed() -> bool:
        async with stack.db() as session:
            row = await session.get(Payment, started["payment_id"], populate_existing=True)
        return row is not None and row.disputed

    await stack.eventually(disputed, timeout=30)
    listed = (await _admin_get(stack, people, disputed="true")).json()
    assert started["payment_id"] in {p["id"] for p in listed["items"]}
    assert all(p["disputed"] for p in listed["items"])
    assert listed["stats"]["disputed"] >= 1 or listed["stats"]["cached"]


async def test_a_dispute_alerts_every_admin_once(shared_stack: Stack, people: People) -> None:
    stack = shared_stack
    async with stack.db() as session:
        dispute = Dispute(
            stripe_id="dp_alert_test", amount=11000, currency="eur", status="needs_response", raw={}
        )
        session.add(dispute)
        await session.flush()
        first = await alert_admins_of_dispute(session, dispute, None)
        again = await alert_admins_of_dispute(session, dispute, None)
        jobs = (
            await session.scalars(
                select(OutboxJob).where(OutboxJob.key.like("email:dispute_opened:%:dp_alert_test"))
            )
        ).all()
        payloads = [job.payload for job in jobs]
        await session.rollback()
    assert first >= 1 and again == 0 and len(payloads) == first
    assert people.admin.email in {payload["to"] for payload in payloads}
    assert all(
        (payload["context"]["amount"], payload["context"]["currency"]) == (11000, "eur")
        for payload in payloads
    )


async def test_refunding_a_charged_back_payment_is_409_with_the_providers_reason(
    shared_stack: Stack, people: People
) -> None:
    stack = shared_stack
    booking = await book(stack, people)
    started = await pay_booking(stack, people, booking["id"], card="4000 0000 0000 0259")

    async def disputed() -> bool:
        async with stack.db() as session:
            row = await session.get(Payment, started["payment_id"], populate_existing=True)
        return row is not None and row.disputed

    await stack.eventually(disputed, timeout=30)
    refund = await stack.http.post(
        f"/api/payments/{started['payment_id']}/refund",
        json={"reason": "duplicate"},
        headers=people.admin.headers,
    )

    assert refund.status_code == 409, refund.text  # was a 502: nothing failed at the provider
    error = refund.json()["error"]
    assert error["code"] == "conflict" and "charged back" in error["message"]
    assert error["provider_code"] == "charge_disputed"

"""Refund, cancel and replay from the console against the running stack (sandbox provider):
the same rules and errors as the API, and an audit entry naming the admin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from billhook.models import AuditEntry, InboxEvent, Payment, Subscription
from tests.support.admin import post_action, sign_in
from tests.support.payments import People, book, pay_booking, wait_payment
from tests.support.shared_stack import people, sandbox_template, shared_stack
from tests.support.stack import PASSWORD, Stack
from tests.support.subscriptions import subscribed

__all__ = ["people", "sandbox_template", "shared_stack"]
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def admin(shared_stack: Stack, people: People) -> AsyncIterator[httpx.AsyncClient]:
    async with shared_stack.browser() as client:
        yield await sign_in(client, people.admin.email, PASSWORD)


async def paid_booking(stack: Stack, people: People) -> Payment:
    booking = await book(stack, people, currency="usd")
    started = await pay_booking(stack, people, booking["id"])
    return await wait_payment(stack, started["payment_id"], "SUCCEEDED")


async def audit(stack: Stack, action: str, subject_id: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    async with stack.db() as session:
        return list(await session.scalars(query))


async def test_a_refund_from_the_customer_page_goes_through_and_names_the_admin(
    shared_stack: Stack, people: People, admin: httpx.AsyncClient
) -> None:
    payment = await paid_booking(shared_stack, people)
    assert payment.customer_id is not None
    page = await admin.get(f"/admin/customers/{payment.customer_id}")
    assert f'action="/admin/payments/{payment.id}/refund"' in page.text
    response = await post_action(
        admin, f"/admin/payments/{payment.id}/refund", amount="20.00", reason="requested_by_customer"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/admin/customers/{payment.customer_id}?done=refund"
    await wait_payment(shared_stack, payment.id, "PARTIALLY_REFUNDED")
    [entry] = [e for e in await audit(shared_stack, "refund.requested") if payment.id in e.subject_id]
    assert entry.actor == f"admin:{people.ids['admin']}"
    assert entry.changes["amount"] == 2000


async def test_refund_errors_are_the_apis(
    shared_stack: Stack, people: People, admin: httpx.AsyncClient
) -> None:
    payment = await paid_booking(shared_stack, people)
    cases = [
        (payment.id, "999.00", 99900),  # more than is left: 422 with the amount left
        ("pay_unknown", "1.00", 100),  # unknown: 404
    ]
    for payment_id, major, minor in cases:
        page = await post_action(
            admin, f"/admin/payments/{payment_id}/refund", amount=major, reason="duplicate"
        )
        api = await shared_stack.http.post(
            f"/api/payments/{payment_id}/refund",
            json={"amount": minor, "reason": "duplicate"},
            headers=people.admin.headers,
        )
        assert page.status_code == api.status_code, (payment_id, page.text[:500])
        assert api.json()["error"]["message"] in page.text.replace("&#39;", "'")
    bad_amount = await post_action(
        admin, f"/admin/payments/{payment.id}/refund", amount="1.234", reason="duplicate"
    )
    assert bad_amount.status_code == 422 and "2 decimal places" in bad_amount.text
    async with shared_stack.db() as session:
        untouched = await session.get(Payment, payment.id)
    assert untouched is not None and untouched.status == "SUCCEEDED" and untouched.amount_refunded == 0


async def test_cancel_from_the_page_at_period_end_then_now(
    shared_stack: Stack, people: People, admin: httpx.AsyncClient
) -> None:
    who = await subscribed(shared_stack, "admin-cancel@example.com", "enterprise_sub")
    me = await shared_stack.me(who)
    async with shared_stack.db() as session:
        row = await session.scalar(select(Subscription).where(Subscription.user_id == me["id"]))
    assert row is not None and row.customer_id is not None
    page = await admin.get(f"/admin/customers/{row.customer_id}")
    assert f'action="/admin/subscriptions/{row.id}/cancel"' in page.text

    later = await post_action(
        admin, f"/admin/subscriptions/{row.id}/cancel", when="period_end", reason="asked by mail"
    )
    assert later.status_code == 303, later.text
    async with shared_stack.db() as session:
        assert (await session.get(Subscription, row.id)).cancel_at_period_end is True  # type: ignore[union-attr]
    [entry] = await audit(shared_stack, "subscription.cancel_requested", row.stripe_id)
    assert entry.actor == f"admin:{people.ids['admin']}" and entry.message == "asked by mail"

    now = await post_action(admin, f"/admin/subscriptions/{row.id}/cancel", when="now")
    assert now.status_code == 303, now.text
    async with shared_stack.db() as session:
        assert (await session.get(Subscription, row.id)).status == "canceled"  # type: ignore[union-attr]

    again = await post_action(admin, f"/admin/subscriptions/{row.id}/cancel", when="now")
    api = await shared_stack.http.post(
        "/api/subscription/cancel", json={"subscription_id": row.stripe_id}, headers=who.headers
    )
    assert again.status_code == api.status_code == 404
    assert api.json()["error"]["message"] in again.text


async def test_an_event_is_replayed_from_the_page(
    shared_stack: Stack, people: People, admin: httpx.AsyncClient
) -> None:
    await paid_booking(shared_stack, people)
    await shared_stack.settled()
    async with shared_stack.db() as session:
        event = await session.scalar(select(InboxEvent).where(InboxEvent.status == "processed").limit(1))
    assert event is not None
    response = await post_action(admin, "/admin/operations/replay", ids=event.id)
    assert response.status_code == 303, response.text
    [entry] = await audit(shared_stack, "inbox.event_replayed", event.event_id)
    assert entry.actor == f"admin:{people.ids['admin']}"
    assert entry.changes["outcome"] == "processed"


async def test_reconcile_from_the_page_names_the_admin(
    shared_stack: Stack, people: People, admin: httpx.AsyncClient
) -> None:
    response = await post_action(admin, "/admin/operations/reconcile", hours="2")
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/admin/operations?done=reconcile&n=")
    [entry] = await audit(shared_stack, "inbox.reconciled")
    assert entry.actor == f"admin:{people.ids['admin']}"
    assert entry.changes["hours"] == 2 and entry.changes["seen"] >= entry.changes["stored"] >= 0
    refused = await post_action(admin, "/admin/operations/reconcile", hours="0")
    assert refused.status_code == 422 and "hours:" in refused.text

"""One running stack per test module (per backend) with the payments and bookings routers, and
the people of the authorization matrix: anonymous, two clients, two coaches and an admin.

Starting a stack costs seconds, so a module shares one; tests keep to their own bookings (each
takes a fresh start time) and never assume an empty table.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from billhook.models import Booking, Payment, User
from tests.support.stack import (
    PASSWORD,
    Customer,
    Stack,
)

_slots = itertools.count(1)


def next_start() -> str:
    """A start time no other booking in the module uses (coaches refuse overlaps)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10, hours=2 * next(_slots))
    return start.isoformat()


@dataclass
class People:
    admin: Customer
    client: Customer
    other_client: Customer
    coach: Customer
    other_coach: Customer
    ids: dict[str, str]

    def as_role(self, name: str) -> dict[str, str]:
        """Headers for a matrix row: ``anonymous`` has none."""
        return {} if name == "anonymous" else getattr(self, name).headers


async def register(stack: Stack, email: str) -> Customer:
    """Register and sign in. The sign-in is retried: the foundation's request session commits after
    the response is sent, so the account may be a moment late (reported to the lead)."""
    response = await stack.http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text

    async def login() -> str | None:
        answer = await stack.http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        return str(answer.json()["access_token"]) if answer.status_code == 200 else None

    token = await stack.eventually(login, timeout=5)
    return Customer(email, {"Authorization": f"Bearer {token}"})


async def make_people(stack: Stack, prefix: str) -> People:
    people: dict[str, Customer] = {}
    for name in ("admin", "client", "other_client", "coach", "other_coach"):
        people[name] = await register(stack, f"{prefix}-{name.replace('_', '-')}@example.com")
    async with stack.db() as session:
        for name, role in (("admin", "admin"), ("coach", "coach"), ("other_coach", "coach")):
            await session.execute(update(User).where(User.email == people[name].email).values(role=role))
        rows = await session.execute(select(User.email, User.id))
        by_email = {email: user_id for email, user_id in rows.all()}
        await session.commit()
    ids = {name: by_email[who.email] for name, who in people.items()}
    return People(ids=ids, **people)


async def book(stack: Stack, people: People, **body: Any) -> dict[str, Any]:
    """A PENDING booking of ``people.coach`` by ``people.client`` (201 asserted)."""
    payload = {"coach_id": people.ids["coach"], "start_at": next_start(), "duration_minutes": 60, **body}
    response = await stack.http.post("/api/bookings", json=payload, headers=people.client.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def pay_booking(
    stack: Stack, people: People, booking_id: str, card: str = "4242 4242 4242 4242"
) -> dict[str, Any]:
    response = await stack.http.post(
        f"/api/bookings/{booking_id}/checkout", json={}, headers=people.client.headers
    )
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    paid = await stack.pay(started["url"], card)
    assert paid.status_code == 303, paid.text
    return started


async def booking_row(stack: Stack, booking_id: str) -> Booking:
    async with stack.db() as session:
        return await session.get_one(Booking, booking_id, populate_existing=True)


async def booking_payments(stack: Stack, booking_id: str) -> list[Payment]:
    async with stack.db() as session:
        rows = await session.scalars(
            select(Payment).where(Payment.booking_id == booking_id).execution_options(populate_existing=True)
        )
        return list(rows)


async def wait_checkout_expired(stack: Stack, booking_id: str) -> list[Payment]:
    """The booking's payments whose checkout expired, once ``checkout.session.expired`` failed them."""

    async def expired() -> list[Payment]:
        return [p for p in await booking_payments(stack, booking_id) if p.failure_code == "checkout_expired"]

    return await stack.eventually(expired)


async def wait_status(stack: Stack, booking_id: str, status: str, timeout: float = 30) -> Booking:
    async def check() -> Booking | None:
        row = await booking_row(stack, booking_id)
        return row if row.status == status else None

    return await stack.eventually(check, timeout)


async def wait_payment(stack: Stack, payment_id: str, status: str, timeout: float = 30) -> Payment:
    async def check() -> Payment | None:
        async with stack.db() as session:
            row = await session.get(Payment, payment_id, populate_existing=True)
        return row if row is not None and row.status == status else None

    return await stack.eventually(check, timeout)


def status_of(response: httpx.Response) -> int:
    return response.status_code

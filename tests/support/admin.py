"""The admin console over HTTP for tests: an app with the console, signed-in browsers, rows to show."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from billhook.admin.pages import router as admin_router
from billhook.kit.ids import new_id
from billhook.models import EmailMessage, InboxEvent, OutboxJob, Payment, User
from tests.support.app_harness import Harness, harness
from tests.support.forms import form

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def admin_harness(database_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    """The pages harness (accounts, catalog, entitlements, sign-in pages) plus the console."""
    async with harness(database_url, **overrides) as built:
        built.app.include_router(admin_router)
        yield built


def browser(h: Harness) -> httpx.AsyncClient:
    """A client with its own cookie jar (one per simulated person)."""
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """Sign ``client`` in through the /login form, as a browser does (cookie session)."""
    shown = await client.get("/login")
    fields = form(shown.text, "/login").fields
    data = {**fields, "email": email, "password": password, "next": "/admin"}
    response = await client.post("/login", data=data)
    assert response.status_code == 303, response.text
    return client


async def signed_in(h: Harness, email: str, *, role: str = "free") -> httpx.AsyncClient:
    """Register ``email`` with ``role`` and sign in through the /login form; returns its browser."""
    await h.register(email, PASSWORD)
    async with h.runtime.session_factory() as session:
        await session.execute(update(User).where(User.email == email).values(role=role))
        await session.commit()
    return await sign_in(browser(h), email)


async def csrf_token(client: httpx.AsyncClient, page: str = "/admin/operations") -> str:
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    match = CSRF.search(shown.text)
    assert match is not None, "the page has no form"
    return match.group(1)


async def post_action(client: httpx.AsyncClient, action: str, **fields: Any) -> httpx.Response:
    """Submit an admin form as the console renders it: its CSRF token and the ticked confirmation."""
    data = {"csrf_token": await csrf_token(client), "confirm": "yes", **fields}
    return await client.post(action, data=data)


async def dead_job(h: Harness, job_type: str = "test.effect", **values: Any) -> OutboxJob:
    async with h.runtime.session_factory() as session:
        job = OutboxJob(key=new_id("key"), type=job_type, payload={}, status="dead", attempts=5,
                        last_error="boom", finished_at=datetime.now(UTC), **values)  # fmt: skip
        session.add(job)
        await session.commit()
        return job


async def failed_email(h: Harness, to: str = "ada@example.com") -> tuple[EmailMessage, OutboxJob]:
    key = f"email:test_message:{to}:{new_id('x')}"
    async with h.runtime.session_factory() as session:
        context = {"transport": "smtp"}
        message = EmailMessage(
            key=key, template="test_message", to_email=to, subject="Test", context=context,
            status="failed", attempts=5, last_error="refused",
        )  # fmt: skip
        payload = {"template": "test_message", "to": to, "context": context}
        job = OutboxJob(
            key=key, type="email.send", payload=payload, status="dead", attempts=5, last_error="refused"
        )
        session.add_all([message, job])
        await session.commit()
        return message, job


async def inbox_event(h: Harness, status: str = "dead") -> InboxEvent:
    async with h.runtime.session_factory() as session:
        row = InboxEvent(
            event_id=new_id("evt"), type="customer.updated", object_id="cus_x", payload={"id": "evt"},
            status=status, attempts=8, last_error="provider down",
        )  # fmt: skip
        session.add(row)
        await session.commit()
        return row


async def payment(
    h: Harness, *, customer_id: str | None = None, amount: int = 4900, **values: Any
) -> Payment:
    async with h.runtime.session_factory() as session:
        row = Payment(amount=amount, currency="usd", status="SUCCEEDED", customer_id=customer_id,
                      created_at=datetime.now(UTC) - timedelta(seconds=1), **values)  # fmt: skip
        session.add(row)
        await session.commit()
        return row

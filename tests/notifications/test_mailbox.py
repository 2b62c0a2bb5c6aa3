"""The local mailbox: the embedded default keeps every email and shows it at /dev/mailbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from billhook.http.errors import install_error_handlers
from billhook.kit.clock import FrozenClock
from billhook.notifications import Mailer, OutgoingEmail, queue_email
from billhook.notifications.mailbox import MailboxMailer
from billhook.runtime import Runtime
from billhook.web import mailbox
from tests.support import notification_factories as factories
from tests.support.databases import PRODUCTION, make_settings
from tests.support.mail import RecordingMailer, email_rows, settle

FROM = "Coachly <noreply@coaching.example.com>"


@pytest.fixture
def mailbox_runtime(runtime: Runtime) -> Runtime:
    runtime.mailer = MailboxMailer(runtime.session_factory, FROM)
    return runtime


@pytest.fixture
async def client(mailbox_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = mailbox_runtime
    install_error_handlers(app)
    app.include_router(mailbox.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _deliver_booking_emails(runtime: Runtime, clock: FrozenClock) -> None:
    async with runtime.session_factory() as session:
        await queue_email(
            session,
            template="booking_confirmed",
            to="Ada Lovelace <ada@example.com>",
            context=factories.booking_confirmed(),
            key_object="bkg_01JD3XK2Q8",
        )
        await queue_email(
            session,
            template="booking_new_for_coach",
            to="grace@coaching.example.com",
            context=factories.booking_new_for_coach(),
            key_object="bkg_01JD3XK2Q8",
        )
        await session.commit()  # fmt: skip
    await settle(runtime, clock)


async def test_delivered_messages_are_kept_once_with_status_sent(
    mailbox_runtime: Runtime, clock: FrozenClock
) -> None:
    await _deliver_booking_emails(mailbox_runtime, clock)

    rows = await email_rows(mailbox_runtime)
    assert sorted((row.template, row.status, row.attempts) for row in rows) == [
        ("booking_confirmed", "sent", 1),
        ("booking_new_for_coach", "sent", 1),
    ]
    assert all(row.provider_message_id == row.id and row.sent_at for row in rows)


async def test_a_message_sent_outside_the_outbox_gets_its_own_row(mailbox_runtime: Runtime) -> None:
    assert mailbox_runtime.mailer is not None
    result = await mailbox_runtime.mailer.send(
        OutgoingEmail(to="ada@example.com", subject="Test", text="plain", html="<p>rich</p>")
    )

    [row] = await email_rows(mailbox_runtime)
    assert (row.id, row.status, row.subject, row.text_body, row.html_body) == (
        result.message_id,
        "sent",
        "Test",
        "plain",
        "<p>rich</p>",
    )
    assert row.context == {"from": FROM}


async def test_the_list_page_shows_every_message(
    client: httpx.AsyncClient, mailbox_runtime: Runtime, clock: FrozenClock
) -> None:
    await _deliver_booking_emails(mailbox_runtime, clock)

    response = await client.get("/dev/mailbox")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Your session with Grace Hopper on Tuesday, December 1, 2026 is confirmed" in page
    assert "New booking: Ada Lovelace on Tuesday, December 1, 2026" in page
    assert "Ada Lovelace &lt;ada@example.com&gt;" in page
    assert "grace@coaching.example.com" in page
    for row in await email_rows(mailbox_runtime):
        assert f'href="/dev/mailbox/{row.id}"' in page


async def test_the_list_filters_by_status(
    client: httpx.AsyncClient, mailbox_runtime: Runtime, clock: FrozenClock
) -> None:
    await _deliver_booking_emails(mailbox_runtime, clock)

    sent = await client.get("/dev/mailbox", params={"status": "sent"})
    failed = await client.get("/dev/mailbox", params={"status": "failed"})
    bad = await client.get("/dev/mailbox", params={"status": "lost"})

    assert "is confirmed" in sent.text
    assert "is confirmed" not in failed.text and "No messages with status failed" in failed.text
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


async def test_a_message_page_renders_both_parts(
    client: httpx.AsyncClient, mailbox_runtime: Runtime, clock: FrozenClock
) -> None:
    await _deliver_booking_emails(mailbox_runtime, clock)
    row = next(row for row in await email_rows(mailbox_runtime) if row.template == "booking_new_for_coach")

    response = await client.get(f"/dev/mailbox/{row.id}")

    assert response.status_code == 200
    page = response.text
    assert "<h1>New booking: Ada Lovelace on Tuesday, December 1, 2026</h1>" in page
    # The HTML part sits escaped in a sandboxed iframe; the text part in a <pre>.
    assert '<iframe title="HTML part" sandbox="" srcdoc="&lt;!doctype html&gt;' in page
    assert "&amp;lt;b&amp;gt;pricing&amp;lt;/b&amp;gt;" in page
    assert "Amount paid: €120.00" in page
    assert "&lt;b&gt;pricing&lt;/b&gt; &amp; positioning" in page


async def test_an_unknown_message_is_a_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/dev/mailbox/msg_NOPE")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no message 'msg_NOPE' in the mailbox"}
    }


async def _mailbox_status(tmp_path: Path, mailer: Mailer, **settings: Any) -> httpx.Response:
    runtime = Runtime.build(make_settings(f"sqlite:///{tmp_path / 'never-opened.db'}", **settings))
    runtime.mailer = mailer
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(mailbox.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/dev/mailbox")
    await runtime.aclose()
    return response


async def test_the_mailbox_is_not_served_when_another_sender_is_active(tmp_path: Path) -> None:
    response = await _mailbox_status(tmp_path, RecordingMailer())

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_the_mailbox_is_never_served_in_production(tmp_path: Path) -> None:
    class ProductionMailbox(RecordingMailer):
        name = "mailbox"

    response = await _mailbox_status(
        tmp_path, ProductionMailbox(), billhook_base_url="https://billing.example.com", **PRODUCTION
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "the local mailbox is not served in production"

"""The SMTP sender against a real SMTP server (aiosmtpd) on loopback, retries through the outbox."""

from __future__ import annotations

import asyncio
import socket

import pytest

from billhook.errors import InvalidInput
from billhook.kit.clock import FrozenClock
from billhook.models import JobStatus
from billhook.notifications import EMAIL_SEND, queue_email
from billhook.notifications.mailer import OutgoingEmail, PermanentMailError, TransientMailError
from billhook.notifications.smtp import SmtpMailer
from billhook.runtime import Runtime
from tests.support import notification_factories as factories
from tests.support.mail import SmtpInbox, email_rows, jobs, settle, smtp_server

FROM = "Coachly <noreply@coachly.example>"


def _mailer(port: int, **options: object) -> SmtpMailer:
    return SmtpMailer(host="127.0.0.1", port=port, from_email=FROM, timeout=5, **options)  # type: ignore[arg-type]


def _message(to: str = "ada@example.com", subject: str = "Hello") -> OutgoingEmail:
    return OutgoingEmail(
        to=to, subject=subject, text="plain words", html="<p>rich words</p>",
        headers={"Reply-To": "help@coachly.example", "Message-ID": "<msg_01TEST@coachly.example>"},
    )  # fmt: skip


async def _queue_booking_confirmation(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await queue_email(
            session, template="booking_confirmed", to="Ada Lovelace <ada@example.com>",
            context=factories.booking_confirmed(), key_object="bkg_01JD3XK2Q8",
        )  # fmt: skip
        await session.commit()


async def test_a_message_arrives_with_both_parts_and_its_headers() -> None:
    inbox = SmtpInbox()
    async with smtp_server(inbox) as port:
        result = await _mailer(port).send(_message())

    [received] = inbox.messages
    assert inbox.envelopes == [("noreply@coachly.example", ["ada@example.com"])]
    assert received["From"] == FROM
    assert received["To"] == "ada@example.com"
    assert received["Subject"] == "Hello"
    assert received["Reply-To"] == "help@coachly.example"
    assert received["Message-ID"] == result.message_id == "<msg_01TEST@coachly.example>"
    assert received["Date"]
    assert received.get_content_type() == "multipart/alternative"
    text, html = (part for part in received.iter_parts())
    assert (text.get_content_type(), text.get_content().strip()) == ("text/plain", "plain words")
    assert (html.get_content_type(), html.get_content().strip()) == ("text/html", "<p>rich words</p>")


async def test_non_ascii_names_and_subjects_are_encoded_not_broken() -> None:
    inbox = SmtpInbox()
    async with smtp_server(inbox) as port:
        await _mailer(port).send(_message(to="Zoë Müller <zoe@example.com>", subject="Réservation confirmée"))

    [received] = inbox.messages
    assert received["Subject"] == "Réservation confirmée"
    assert received["To"] == "Zoë Müller <zoe@example.com>"
    assert inbox.envelopes[0][1] == ["zoe@example.com"]


async def test_the_sender_is_safe_for_concurrent_use() -> None:
    inbox = SmtpInbox()
    async with smtp_server(inbox) as port:
        mailer = _mailer(port)
        await asyncio.gather(*(mailer.send(_message(to=f"client{n}@example.com")) for n in range(8)))

    assert sorted(rcpt for _, [rcpt] in inbox.envelopes) == sorted(f"client{n}@example.com" for n in range(8))


async def test_a_4xx_reply_is_transient_and_a_5xx_reply_permanent() -> None:
    inbox = SmtpInbox(rcpt_replies=["451 4.3.0 Mailbox busy, try later", "550 5.1.1 No such user here"])
    async with smtp_server(inbox) as port:
        with pytest.raises(TransientMailError, match="SMTP 451"):
            await _mailer(port).send(_message())
        with pytest.raises(PermanentMailError, match=r"SMTP 550.*No such user"):
            await _mailer(port).send(_message())
    assert inbox.messages == []


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    with pytest.raises(TransientMailError, match="SMTP connection failed"):
        await _mailer(closed_port).send(_message())


async def test_a_line_break_in_a_header_never_reaches_the_wire() -> None:
    inbox = SmtpInbox()
    async with smtp_server(inbox) as port:
        with pytest.raises(InvalidInput, match="subject"):
            await _mailer(port).send(_message(subject="Hi\r\nBcc: victim@example.com"))
    assert inbox.rcpt_attempts == 0


async def test_refused_three_times_then_delivered_on_the_fourth_attempt(
    runtime: Runtime, clock: FrozenClock
) -> None:
    inbox = SmtpInbox(rcpt_replies=["451 4.7.1 Greylisted, try again later"] * 3)
    async with smtp_server(inbox) as port:
        runtime.mailer = _mailer(port)
        await _queue_booking_confirmation(runtime)
        await settle(runtime, clock)

    assert inbox.rcpt_attempts == 4
    [received] = inbox.messages
    # A long subject is folded onto a continuation line (RFC 5322 §2.2.3); unfolded it reads whole.
    assert (
        received["Subject"].strip()
        == "Your session with Grace Hopper on Tuesday, December 1, 2026 is confirmed"
    )
    assert received["To"] == "Ada Lovelace <ada@example.com>"
    [row] = await email_rows(runtime)
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, None)
    assert row.sent_at is not None
    assert received["Message-ID"] == f"<{row.id}@coaching.example.com>" == row.provider_message_id
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DONE, 4)


async def test_a_permanent_rejection_fails_after_one_attempt(runtime: Runtime, clock: FrozenClock) -> None:
    inbox = SmtpInbox(rcpt_replies=["550 5.1.1 <ada@example.com>: Recipient address rejected"])
    async with smtp_server(inbox) as port:
        runtime.mailer = _mailer(port)
        await _queue_booking_confirmation(runtime)
        await settle(runtime, clock)

    assert inbox.rcpt_attempts == 1
    assert inbox.messages == []
    [row] = await email_rows(runtime)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "SMTP 550" in row.last_error
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)

"""The Mailgun sender against a local HTTP server standing in for Mailgun's messages API."""

from __future__ import annotations

import httpx
import pytest

from billhook.kit.clock import FrozenClock
from billhook.models import JobStatus
from billhook.notifications import EMAIL_SEND, queue_email
from billhook.notifications.mailer import OutgoingEmail, PermanentMailError, TransientMailError
from billhook.notifications.mailgun import MailgunMailer
from billhook.runtime import Runtime
from tests.support import notification_factories as factories
from tests.support.mail import FakeMailgun, email_rows, http_server, jobs, settle

API_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
DOMAIN = "mg.coachly.example"
SENDER = "Coachly <noreply@mg.coachly.example>"


def _mailer(base_url: str, **options: object) -> MailgunMailer:
    return MailgunMailer(api_key=API_KEY, domain=DOMAIN, from_email=SENDER, base_url=base_url, **options)  # type: ignore[arg-type]


def _message() -> OutgoingEmail:
    return OutgoingEmail(
        to="Ada Lovelace <ada@example.com>", subject="Your receipt", text="plain words",
        html="<p>rich words</p>", headers={"Reply-To": "help@coachly.example"},
    )  # fmt: skip


async def _queue_receipt(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        await queue_email(
            session, template="payment_receipt", to="ada@example.com",
            context=factories.payment_receipt(), key_object="pay_01JD3Y7M2C",
        )  # fmt: skip
        await session.commit()


async def test_the_request_is_the_one_mailgun_documents() -> None:
    mailgun = FakeMailgun()
    async with http_server(mailgun.app()) as base_url:
        mailer = _mailer(base_url)
        result = await mailer.send(_message())
        await mailer.aclose()

    [request] = mailgun.requests
    assert request.path == f"/v3/{DOMAIN}/messages"
    assert (request.username, request.password) == ("api", API_KEY)
    assert request.form == {
        "from": SENDER,
        "to": "Ada Lovelace <ada@example.com>",
        "subject": "Your receipt",
        "text": "plain words",
        "html": "<p>rich words</p>",
        "h:Reply-To": "help@coachly.example",
    }
    assert (result.transport, result.message_id) == ("mailgun", "<1@mg.example.com>")


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, TransientMailError), (503, TransientMailError), (429, TransientMailError),
     (400, PermanentMailError), (401, PermanentMailError), (404, PermanentMailError)],
)  # fmt: skip
async def test_errors_are_classified_by_status(status: int, error: type[Exception]) -> None:
    mailgun = FakeMailgun(statuses=[(status, {"message": "'to' parameter is not a valid address"})])
    async with http_server(mailgun.app()) as base_url:
        mailer = _mailer(base_url)
        with pytest.raises(error, match=f"Mailgun HTTP {status}: 'to' parameter is not a valid address"):
            await mailer.send(_message())
        await mailer.aclose()


async def test_a_timeout_is_transient_and_bounded() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    mailer = _mailer("https://api.mailgun.net", transport=httpx.MockTransport(hang))
    with pytest.raises(TransientMailError, match="Mailgun timeout"):
        await mailer.send(_message())
    await mailer.aclose()


async def test_a_5xx_is_retried_until_delivered(runtime: Runtime, clock: FrozenClock) -> None:
    mailgun = FakeMailgun(statuses=[(502, {"message": "Bad gateway"}), (500, {"message": "Internal"})])
    async with http_server(mailgun.app()) as base_url:
        runtime.mailer = _mailer(base_url)
        await _queue_receipt(runtime)
        await settle(runtime, clock)
        await runtime.mailer.aclose()

    assert len(mailgun.requests) == 3
    assert len({request.form["h:Message-ID"] for request in mailgun.requests}) == 1
    [row] = await email_rows(runtime)
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 3, "<3@mg.example.com>")
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DONE, 3)


async def test_a_400_stops_at_once_with_mailgun_s_message(runtime: Runtime, clock: FrozenClock) -> None:
    mailgun = FakeMailgun(statuses=[(400, {"message": "'to' parameter is not a valid address"})])
    async with http_server(mailgun.app()) as base_url:
        runtime.mailer = _mailer(base_url)
        await _queue_receipt(runtime)
        await settle(runtime, clock)
        await runtime.mailer.aclose()

    assert len(mailgun.requests) == 1
    [row] = await email_rows(runtime)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "Mailgun HTTP 400: 'to' parameter is not a valid address"
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)

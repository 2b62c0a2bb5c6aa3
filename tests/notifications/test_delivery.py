"""queue_email and the email.send job: once per causing object, retried, recorded, never blocking."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from billhook.errors import InvalidInput
from billhook.kit.clock import FrozenClock
from billhook.models import JobStatus, User
from billhook.notifications import (
    DEAD_LETTER_ALERT,
    EMAIL_SEND,
    EmailTemplateError,
    email_key,
    queue_email,
)
from billhook.notifications import (
    jobs as email_jobs,
)
from billhook.notifications.mailer import OutgoingEmail, PermanentMailError, SendResult, TransientMailError
from billhook.outbox import JobContext, enqueue
from billhook.outbox.worker import OutboxWorker
from billhook.runtime import Runtime
from tests.support import notification_factories as factories
from tests.support.mail import RecordingMailer, email_rows, jobs, settle


async def _booking_paid(session: AsyncSession, booking_id: str) -> list[bool]:
    """What the booking-paid reaction asks for: one email to the client, one to the coach."""
    client = {**factories.booking_confirmed(), "booking_id": booking_id}
    coach = {**factories.booking_new_for_coach(), "booking_id": booking_id}
    return [
        await queue_email(session, template="booking_confirmed", to="Ada Lovelace <ada@example.com>",
                          context=client, key_object=booking_id),
        await queue_email(session, template="booking_new_for_coach", to="grace@coaching.example.com",
                          context=coach, key_object=booking_id),
    ]  # fmt: skip


async def test_the_same_causing_object_three_times_sends_one_email(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    outcomes = []
    for _ in range(3):
        async with runtime.session_factory() as session:
            outcomes.append(
                await queue_email(session, template="welcome", to="ADA@example.com",
                                  context=factories.welcome(), key_object="usr_01ADA")
            )  # fmt: skip
            await session.commit()
        await settle(runtime, clock, rounds=1)

    assert outcomes == [True, False, False]
    [row] = await email_rows(runtime)
    assert row.key == "email:welcome:ada@example.com:usr_01ADA"
    assert len(await jobs(runtime, EMAIL_SEND)) == 1
    assert [message.to for message in mailer.sent] == ["ada@example.com"]


async def test_a_booking_paid_event_delivered_three_times_emails_client_and_coach_once(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    results = []
    for _ in range(3):
        async with runtime.session_factory() as session:
            results.append(await _booking_paid(session, "bkg_01JD3XK2Q8"))
            await session.commit()
    await settle(runtime, clock)

    assert results == [[True, True], [False, False], [False, False]]
    assert sorted(message.to for message in mailer.sent) == [
        "Ada Lovelace <ada@example.com>",
        "grace@coaching.example.com",
    ]
    rows = await email_rows(runtime)
    assert sorted((row.template, row.status, row.attempts) for row in rows) == [
        ("booking_confirmed", "sent", 1),
        ("booking_new_for_coach", "sent", 1),
    ]


async def test_a_rolled_back_transaction_queues_nothing(runtime: Runtime, clock: FrozenClock,
                                                        mailer: RecordingMailer) -> None:  # fmt: skip
    async with runtime.session_factory() as session:
        await _booking_paid(session, "bkg_rolled_back")
        await session.rollback()
    await settle(runtime, clock, rounds=1)

    assert await email_rows(runtime) == [] and mailer.sent == []


def _direct_payload(booking_id: str) -> dict[str, Any]:
    """As the fulfilment engineer enqueues it: JSON values only, no Money or datetime objects."""
    context = {
        **factories.booking_confirmed(),
        "start_at": "2026-12-01T14:30:00+01:00",
        "booking_id": booking_id,
    }
    return {
        "template": "booking_confirmed",
        "to": "ada@example.com",
        "context": context,
        "key_object": booking_id,
    }


async def test_jobs_enqueued_directly_are_recorded_and_sent_once(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    key = email_key("booking_confirmed", "ada@example.com", "bkg_01JD3XK2Q8")
    for _ in range(3):
        async with runtime.session_factory() as session:
            await enqueue(session, EMAIL_SEND, _direct_payload("bkg_01JD3XK2Q8"), key=key)
            await session.commit()
        await settle(runtime, clock, rounds=1)

    assert [message.to for message in mailer.sent] == ["ada@example.com"]
    [row] = await email_rows(runtime)
    assert (row.key, row.template, row.status, row.attempts) == (key, "booking_confirmed", "sent", 1)
    assert "Grace Hopper" in (row.text_body or "") and "14:30 UTC+01:00" in (row.text_body or "")


async def test_queue_email_and_a_direct_job_for_the_same_key_send_once(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    key = email_key("booking_confirmed", "ada@example.com", "bkg_01JD3XK2Q8")
    async with runtime.session_factory() as session:
        await enqueue(session, EMAIL_SEND, _direct_payload("bkg_01JD3XK2Q8"), key=key)
        await session.commit()
    async with runtime.session_factory() as session:
        assert await _booking_paid(session, "bkg_01JD3XK2Q8") == [False, True]
        await session.commit()
    await settle(runtime, clock)

    assert sorted(message.to for message in mailer.sent) == [
        "Ada Lovelace <ada@example.com>",
        "grace@coaching.example.com",
    ]
    assert len(await jobs(runtime, EMAIL_SEND)) == 2


async def test_a_direct_job_with_a_bad_payload_stops_at_once(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    payload = {**_direct_payload("bkg_1"), "to": "ada@example.com\r\nBcc: victim@example.com"}
    async with runtime.session_factory() as session:
        await enqueue(session, EMAIL_SEND, payload, key="email:booking_confirmed:x:bkg_1")
        await session.commit()
    await settle(runtime, clock, rounds=1)

    assert mailer.sent == [] and await email_rows(runtime) == []
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)


async def test_a_repeated_job_after_sending_sends_nothing(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    async with runtime.session_factory() as session:
        await queue_email(session, template="refund_issued", to="ada@example.com",
                          context=factories.refund_issued(), key_object="re_01JD40A1B2")  # fmt: skip
        await session.commit()
    await settle(runtime, clock)
    [job] = await jobs(runtime, EMAIL_SEND)

    async with runtime.session_factory() as session:  # as after a crash between send and commit
        context = JobContext(session, runtime, job.id, job.key, job.type, dict(job.payload), attempt=2)
        await email_jobs.send_email(context)

    assert len(mailer.sent) == 1
    [row] = await email_rows(runtime)
    assert row.attempts == 1


async def test_logs_carry_neither_tokens_nor_bodies(runtime: Runtime, clock: FrozenClock) -> None:
    runtime.mailer = recording = RecordingMailer(TransientMailError("SMTP 421: try later"))
    with capture_logs() as logs:
        async with runtime.session_factory() as session:
            await queue_email(session, template="welcome", to="ada@example.com",
                              context=factories.welcome(), key_object="usr_01ADA")  # fmt: skip
            await session.commit()
        await settle(runtime, clock)

    [sent] = recording.sent
    assert "st_9f8e7d6c5b4a" in sent.text
    assert {"email_send_failed", "email_sent"} <= {log["event"] for log in logs}
    logged = repr(logs)
    assert "st_9f8e7d6c5b4a" not in logged
    assert "choose a password" not in logged and sent.subject not in logged


async def test_transient_failures_are_retried_five_times_then_failed_with_the_reason(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """The first attempt and five retries after it (1, 2, 4, 8, 16 s apart), then failed."""
    runtime.mailer = RecordingMailer(*(TransientMailError(f"SMTP 421: busy #{n}") for n in range(1, 7)))
    async with runtime.session_factory() as session:
        await queue_email(session, template="payment_failed", to="ada@example.com",
                          context=factories.payment_failed(), key_object="in_01FAIL")  # fmt: skip
        await session.commit()
    await settle(runtime, clock)

    row = next(row for row in await email_rows(runtime) if row.template == "payment_failed")
    assert (row.status, row.attempts, row.last_error) == ("failed", 6, "SMTP 421: busy #6")
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 6)


async def test_a_dead_job_alerts_every_admin_by_email(runtime: Runtime, clock: FrozenClock) -> None:
    runtime.mailer = recording = RecordingMailer(PermanentMailError("SMTP 550: no such user"))
    async with runtime.session_factory() as session:
        session.add_all([
            User(email="ops@coaching.example.com", role="admin"),
            User(email="owner@coaching.example.com", role="admin"),
            User(email="retired@coaching.example.com", role="admin", is_active=False),
            User(email="client@example.com", role="free"),
            User(email="root@localhost", role="admin"),  # not deliverable: skipped, not fatal
        ])  # fmt: skip
        await queue_email(session, template="welcome", to="nobody@example.com",
                          context=factories.welcome(), key_object="usr_01NOBODY")  # fmt: skip
        await session.commit()
    await settle(runtime, clock)

    [dead] = [job for job in await jobs(runtime, EMAIL_SEND) if job.status == JobStatus.DEAD]
    alerts = [message for message in recording.sent if "failed for good" in message.subject]
    assert sorted(message.to for message in alerts) == [
        "ops@coaching.example.com",
        "owner@coaching.example.com",
    ]
    assert all(dead.id in message.text and "SMTP 550" in message.text for message in alerts)
    assert all(job.status == JobStatus.DONE for job in await jobs(runtime, DEAD_LETTER_ALERT))


async def test_a_dead_job_also_alerts_the_alert_address_beside_the_admins(
    runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.settings.billhook_alert_email = "oncall@coaching.example.com"
    runtime.mailer = recording = RecordingMailer(PermanentMailError("SMTP 550: no such user"))
    async with runtime.session_factory() as session:
        session.add(User(email="ops@coaching.example.com", role="admin"))
        await queue_email(session, template="welcome", to="nobody@example.com",
                          context=factories.welcome(), key_object="usr_01NOBODY")  # fmt: skip
        await session.commit()
    await settle(runtime, clock)

    alerts = [message for message in recording.sent if "failed for good" in message.subject]
    assert sorted(message.to for message in alerts) == [
        "oncall@coaching.example.com",
        "ops@coaching.example.com",
    ]


async def test_an_undeliverable_alert_does_not_alert_again(runtime: Runtime, clock: FrozenClock) -> None:
    runtime.mailer = RecordingMailer(*(PermanentMailError("SMTP 554: relay denied") for _ in range(10)))
    async with runtime.session_factory() as session:
        session.add(User(email="ops@coaching.example.com", role="admin"))
        await queue_email(session, template="welcome", to="ada@example.com",
                          context=factories.welcome(), key_object="usr_01ADA")  # fmt: skip
        await session.commit()
    await settle(runtime, clock)

    rows = await email_rows(runtime)
    assert sorted((row.template, row.status) for row in rows) == [
        ("dead_letter_alert", "failed"),
        ("welcome", "failed"),
    ]
    assert len(await jobs(runtime, DEAD_LETTER_ALERT)) == 2
    assert all(job.status == JobStatus.DONE for job in await jobs(runtime, DEAD_LETTER_ALERT))


async def test_without_admins_or_fallback_the_alert_is_logged_not_lost(
    runtime: Runtime, clock: FrozenClock, mailer: RecordingMailer
) -> None:
    async with runtime.session_factory() as session:
        alert = {"job_id": "job_01X", "job_type": "fulfilment.grant", "error": "boom"}
        await enqueue(session, DEAD_LETTER_ALERT, alert, key="dla:1")
        await session.commit()
    await settle(runtime, clock, rounds=1)

    assert mailer.sent == []
    [job] = await jobs(runtime, DEAD_LETTER_ALERT)
    assert job.status == JobStatus.DONE


async def test_a_runtime_without_a_mailer_retries_instead_of_dropping(
    runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.mailer = None
    async with runtime.session_factory() as session:
        await queue_email(session, template="welcome", to="ada@example.com",
                          context=factories.welcome(), key_object="usr_01ADA")  # fmt: skip
        await session.commit()
    await OutboxWorker(runtime, listen=False).drain()

    [job] = await jobs(runtime, EMAIL_SEND)
    assert job.status == JobStatus.PENDING
    assert job.last_error is not None and "no mailer" in job.last_error
    [row] = await email_rows(runtime)
    assert row.status == "queued"


class HangingMailer:
    name = "hanging"

    async def send(self, message: OutgoingEmail) -> SendResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


async def test_a_hanging_mail_server_times_out_and_is_retried(
    runtime: Runtime, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_jobs, "SEND_DEADLINE_SECONDS", 0.1)
    runtime.mailer = HangingMailer()
    async with runtime.session_factory() as session:
        await queue_email(session, template="welcome", to="ada@example.com",
                          context=factories.welcome(), key_object="usr_01ADA")  # fmt: skip
        await session.commit()
    await OutboxWorker(runtime, listen=False).drain()

    [row] = await email_rows(runtime)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.last_error is not None and "longer than" in row.last_error
    [job] = await jobs(runtime, EMAIL_SEND)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)


class GatheringMailer:
    """Holds each send until ``expected`` sends are in flight at once (or a deadline passes)."""

    name = "gathering"

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.in_flight = 0
        self.most_in_flight = 0
        self.all_in = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, message: OutgoingEmail) -> SendResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.in_flight >= self.expected:
            self.all_in.set()
        try:
            async with asyncio.timeout(5):
                await self.all_in.wait()
        finally:
            self.in_flight -= 1
        self.sent.append(message.to)
        return SendResult(transport=self.name)

    async def aclose(self) -> None:
        return None


async def test_several_messages_go_out_concurrently(runtime: Runtime, clock: FrozenClock) -> None:
    worker = OutboxWorker(runtime, concurrency=4, listen=False)
    runtime.mailer = gathering = GatheringMailer(expected=worker.concurrency)
    async with runtime.session_factory() as session:
        for n in range(4):
            await queue_email(session, template="welcome", to=f"client{n}@example.com",
                              context=factories.welcome(), key_object=f"usr_{n}")  # fmt: skip
        await session.commit()

    await worker.drain()

    assert len(gathering.sent) == 4
    # PostgreSQL runs four at once; SQLite's single writer makes the worker use one slot.
    expected = 4 if runtime.engine.dialect.name == "postgresql" else 1
    assert gathering.most_in_flight == expected


BAD_ADDRESSES = [
    ("not-an-address", "not a valid email address"),
    ("ada@localhost", "not a valid email address"),
    ("Ada\r\nBcc: victim@example.com <ada@example.com>", "single line"),
    ("ada@example.com\nBcc: victim@example.com", "single line"),
    ("", "not a valid email address"),
]
BAD_MESSAGES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("subscription_renewed", {**factories.subscription_renewed(), "plan_name": "Pro\r\nBcc: x@example.com"},
     InvalidInput, "subject must be a single line"),
    ("welcome", {"name": "Ada"}, EmailTemplateError, "password_set_url"),
    ("welcom", factories.welcome(), InvalidInput, "unknown email template"),
    ("welcome", {**factories.welcome(), "callback": object()}, InvalidInput, "JSON-like"),
    ("welcome", factories.welcome(), InvalidInput, "key_object"),
]  # fmt: skip


async def test_bad_addresses_are_refused_before_anything_is_queued(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        for to, message in BAD_ADDRESSES:
            with pytest.raises(InvalidInput, match=message):
                await queue_email(
                    session, template="welcome", to=to, context=factories.welcome(), key_object="u1"
                )
        await session.commit()

    assert await email_rows(runtime) == [] and await jobs(runtime) == []


async def test_bad_messages_are_refused_before_anything_is_queued(runtime: Runtime) -> None:
    async with runtime.session_factory() as session:
        for template, context, error, message in BAD_MESSAGES:
            key_object = " " if message == "key_object" else "o1"
            with pytest.raises(error, match=message):
                await queue_email(
                    session, template=template, to="ada@example.com", context=context, key_object=key_object
                )
        await session.commit()

    assert await email_rows(runtime) == [] and await jobs(runtime) == []

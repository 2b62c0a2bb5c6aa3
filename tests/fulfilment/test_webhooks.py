from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from billhook.errors import InvalidInput, NotFound
from billhook.fulfilment import webhooks
from billhook.fulfilment.requests import EventType, FulfilmentJob, publish_event
from billhook.fulfilment.signing import generate_secret, sign
from billhook.models import JobStatus, OrderType, WebhookDelivery
from billhook.orders.schemas import OrderItemInput
from billhook.orders.service import record_paid_order
from billhook.outbox import RetryPolicy
from tests.support.fulfilment import Outbox, build_outbox, jobs

NO_WAIT = RetryPolicy(max_attempts=5, base_delay=timedelta(0))


@dataclass
class Receiver:
    """A real HTTP server on the loopback interface answering with scripted status codes."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[Outbox]:
    outbox = build_outbox(database_url, webhook_policy=NO_WAIT)
    yield outbox
    await outbox.runtime.aclose()


async def _endpoint(outbox: Outbox, url: str, *event_types: str) -> tuple[str, str]:
    async with outbox.runtime.session_factory() as session:
        endpoint = await webhooks.add_endpoint(session, url, event_types=event_types)
        await session.commit()
    return endpoint.id, endpoint.secret


async def _deliveries(outbox: Outbox) -> list[WebhookDelivery]:
    async with outbox.runtime.session_factory() as session:
        return list((await session.execute(select(WebhookDelivery))).scalars())


async def test_an_order_paid_event_arrives_signed_and_verifies(outbox: Outbox, receiver: Receiver) -> None:
    _id, secret = await _endpoint(outbox, receiver.url, "order.paid")
    await _endpoint(outbox, receiver.url + "/refunds-only", "payment.refunded")
    async with outbox.runtime.session_factory() as session:
        order = await record_paid_order(
            session, order_type=OrderType.NEW, user_id=None, customer_id=None, amount_total=500,
            currency="eur", items=[OrderItemInput(kind="credits", unit_amount=500)],
            checkout_session_stripe_id="cs_hook",
        )  # fmt: skip
        await session.commit()
    await outbox.drain()

    assert len(receiver.requests) == 1  # only the subscribed endpoint
    headers, body = receiver.requests[0]
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "order.paid"
    assert event["data"]["order_id"] == order.id
    (delivery,) = await _deliveries(outbox)
    assert headers["webhook-id"] == delivery.id
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_try(
    outbox: Outbox, receiver: Receiver
) -> None:
    _id, secret = await _endpoint(outbox, receiver.url)
    receiver.statuses = [500, 503]
    async with outbox.runtime.session_factory() as session:
        await publish_event(
            session, EventType.SUBSCRIPTION_CANCELED, {"subscription": "sub_1"}, key="cancel:1"
        )
        await session.commit()
    await outbox.drain()

    assert len(receiver.requests) == 3
    ids = {headers["webhook-id"] for headers, _body in receiver.requests}
    assert len(ids) == 1  # the same message id on every retry
    for headers, body in receiver.requests:
        assert Webhook(secret).verify(body, headers)["data"] == {"subscription": "sub_1"}
    (delivery,) = await _deliveries(outbox)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
    async with outbox.runtime.session_factory() as session:
        (job,) = await jobs(session, FulfilmentJob.WEBHOOK_DELIVER)
    assert (job.status, job.attempts) == (JobStatus.DONE, 3)


async def test_a_failing_receiver_is_logged_and_the_job_retried_later(
    database_url: str, receiver: Receiver
) -> None:
    outbox = build_outbox(database_url)  # the real back-off: 5 s before the second try
    await _endpoint(outbox, receiver.url)
    receiver.statuses = [500]
    async with outbox.runtime.session_factory() as session:
        await publish_event(session, "entitlements.changed", {"user_id": "usr_1"}, key="ent:1")
        await session.commit()
    await outbox.drain()
    (delivery,) = await _deliveries(outbox)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failing", 1, "HTTP 500")
    async with outbox.runtime.session_factory() as session:
        (job,) = await jobs(session, FulfilmentJob.WEBHOOK_DELIVER)
    assert job.status == JobStatus.PENDING and job.run_after > outbox.runtime.clock.now()
    await outbox.runtime.aclose()


async def test_a_disabled_endpoint_receives_nothing_more(outbox: Outbox, receiver: Receiver) -> None:
    endpoint_id, _secret = await _endpoint(outbox, receiver.url)
    async with outbox.runtime.session_factory() as session:
        await publish_event(session, EventType.ORDER_PAID, {"order_id": "ord_1"}, key="paid:1")
        await webhooks.disable_endpoint(session, endpoint_id)
        await session.commit()
    await outbox.drain()
    assert receiver.requests == []


def test_the_signature_follows_the_standard_webhooks_scheme() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the example in the Standard Webhooks spec
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


BAD_ENDPOINTS: list[tuple[str, dict[str, object], str]] = [
    ("ftp://example.com/hook", {}, "is not an http"),
    ("https://example.com/hook", {"event_types": ["order.shipped"]}, "unknown event type"),
    ("https://example.com/hook", {"secret": "not-a-secret"}, "starts with 'whsec_'"),
]


async def test_bad_endpoints_are_refused(outbox: Outbox) -> None:
    async with outbox.runtime.session_factory() as session:
        for url, options, message in BAD_ENDPOINTS:
            with pytest.raises(InvalidInput, match=message):
                await webhooks.add_endpoint(session, url, **options)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            await webhooks.disable_endpoint(session, "we_missing")
        assert await webhooks.list_endpoints(session) == []


def test_generated_secrets_verify_with_the_library() -> None:
    secret = generate_secret()
    Webhook(secret)  # accepts the format
    assert secret.startswith("whsec_")


async def test_a_receiver_that_never_answers_2xx_ends_failed_and_dead(
    outbox: Outbox, receiver: Receiver
) -> None:
    await _endpoint(outbox, receiver.url)
    receiver.statuses = [500] * 10
    async with outbox.runtime.session_factory() as session:
        await publish_event(session, EventType.PAYMENT_REFUNDED, {"refund_id": "re_1"}, key="refund:1")
        await session.commit()
    await outbox.drain()

    (delivery,) = await _deliveries(outbox)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 10, 500)
    async with outbox.runtime.session_factory() as session:
        (job,) = await jobs(session, FulfilmentJob.WEBHOOK_DELIVER)
        alerts = await jobs(session, "email.dead_letter_alert")
    assert job.status == JobStatus.DEAD
    assert [alert.payload["job_id"] for alert in alerts] == [job.id]

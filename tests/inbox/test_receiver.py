"""The webhook receiver: signature matrix, body limits, storing once, answering at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import func, select, text, update

from billhook.config import Settings
from billhook.inbox.endpoints import WebhookFastPath
from billhook.inbox.signature import sign
from billhook.kit.webhook_secrets import WebhookSecrets
from billhook.models import InboxEvent, InboxStatus
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.inbox import OLD_SECRET, SECRET, billhook_app, event_payload, signed

URL = "/api/payments/webhook"


async def stored(runtime: Runtime) -> list[InboxEvent]:
    async with runtime.session_factory() as session:
        return list(await session.scalars(select(InboxEvent).order_by(InboxEvent.received_at)))


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}
    return str(body["error"]["code"])


async def test_a_valid_delivery_is_stored_and_queued(client: httpx.AsyncClient, runtime: Runtime) -> None:
    payload = event_payload("customer.created")
    body, headers = signed(payload)
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "queued"}
    [row] = await stored(runtime)
    assert (row.event_id, row.type, row.status, row.source) == (
        payload["id"],
        "customer.created",
        "pending",
        "webhook",
    )
    assert row.payload == payload
    assert row.ordering_key == payload["data"]["object"]["id"]


async def test_ordering_key_is_the_customer_when_the_object_names_one(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    obj = {"id": "pi_123", "object": "payment_intent", "customer": "cus_ABC"}
    body, headers = signed(event_payload("payment_intent.succeeded", obj=obj))
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    [row] = await stored(runtime)
    assert (row.object_id, row.ordering_key) == ("pi_123", "cus_ABC")


async def test_rotation_accepts_the_previous_secret(client: httpx.AsyncClient) -> None:
    body, headers = signed(event_payload(), OLD_SECRET)
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200


async def test_any_matching_v1_among_several_passes(client: httpx.AsyncClient) -> None:
    body = json.dumps(event_payload()).encode()
    now = int(time.time())
    header = f"t={now},v1={'0' * 64},v1={sign(body, SECRET, now)},v0=abc"
    response = await client.post(URL, content=body, headers={"Stripe-Signature": header})
    assert response.status_code == 200


async def test_stale_and_future_timestamps_are_refused(client: httpx.AsyncClient) -> None:
    for offset in (-301, 301, -10_000, 10_000):
        body, headers = signed(event_payload(), at=int(time.time()) + offset)
        response = await client.post(URL, content=body, headers=headers)
        assert (response.status_code, error_code(response)) == (400, "timestamp_out_of_tolerance"), offset


async def test_timestamps_within_tolerance_both_ways_pass(client: httpx.AsyncClient) -> None:
    for offset in (-250, 250):
        body, headers = signed(event_payload(), at=int(time.time()) + offset)
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200


async def test_a_tampered_body_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body, headers = signed(event_payload())
    response = await client.post(URL, content=body.replace(b"customer", b"custOmer", 1), headers=headers)
    assert response.status_code == 400
    assert error_code(response) == "signature_mismatch"
    assert await stored(runtime) == []


async def test_a_signature_from_an_unknown_secret_is_refused(client: httpx.AsyncClient) -> None:
    body, headers = signed(event_payload(), "whsec_someone_else")
    response = await client.post(URL, content=body, headers=headers)
    assert (response.status_code, error_code(response)) == (400, "signature_mismatch")


MALFORMED_HEADERS: list[tuple[str | bytes | None, str]] = [
    (None, "missing_signature"),
    ("", "missing_signature"),
    ("garbage", "malformed_signature_header"),
    ("t=abc,v1=00", "malformed_signature_header"),
    ("v1=00", "malformed_signature_header"),
    ("t=1700000000", "malformed_signature_header"),
    ("t=1,t=2,v1=00", "malformed_signature_header"),
    ("t=١٢٣,v1=00".encode(), "malformed_signature_header"),
]
NOT_EVENTS = [
    (b"\xff\xfe not utf-8", "invalid_utf8"),
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_event"),
    (b'{"id": "evt_1", "type": "x"}', "invalid_event"),
    (b'{"id": 5, "type": "x", "data": {"object": {}}}', "invalid_event"),
    (b"[" * 100_000, "invalid_json"),
    (b'{"id": "evt_1", "type": "x", "data": {"object": {"id": "a\\u0000"}}}', "invalid_event"),
    # Not JSON (RFC 8259), though Python's json module reads them; PostgreSQL's jsonb refuses them,
    # so they must be refused before they are stored, not fail the store with a 503 (Stripe retries).
    (b'{"id": "evt_1", "type": "x", "data": {"object": {"id": "in_1", "amount": NaN}}}', "invalid_json"),
    (b'{"id": "evt_1", "type": "x", "data": {"object": {"id": "in_1", "a": -Infinity}}}', "invalid_json"),
    (b'{"id": "evt_1", "type": "x", "data": {"object": {"id": "in_1", "a": "\\ud800"}}}', "invalid_json"),
]


async def test_malformed_headers_are_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = json.dumps(event_payload()).encode()
    for header, code in MALFORMED_HEADERS:
        headers = {} if header is None else {"Stripe-Signature": header}
        response = await client.post(URL, content=body, headers=headers)
        assert (response.status_code, error_code(response)) == (400, code), header
    assert await stored(runtime) == []


async def test_signed_bodies_that_are_not_events_are_refused(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    for body, code in NOT_EVENTS:
        _, headers = signed(body)
        response = await client.post(URL, content=body, headers=headers)
        assert (response.status_code, error_code(response)) == (400, code), body[:40]
    assert await stored(runtime) == []


async def test_a_body_over_one_mebibyte_is_refused_by_its_length(client: httpx.AsyncClient) -> None:
    body, headers = signed(b"x" * (1024 * 1024 + 1))
    response = await client.post(URL, content=body, headers=headers)
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


async def test_a_streamed_body_is_cut_off_past_one_mebibyte(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered, without a Content-Length
            sent += 1
            yield b"x" * 65536

    response = await client.post(URL, content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"})
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")
    assert sent < 64


async def test_other_methods_get_405(client: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = await client.request(method, URL)
        assert (response.status_code, error_code(response)) == (405, "method_not_allowed")
        assert response.headers["allow"] == "POST"


async def test_a_duplicate_changes_nothing_and_says_so(client: httpx.AsyncClient, runtime: Runtime) -> None:
    payload = event_payload()
    body, headers = signed(payload)
    await client.post(URL, content=body, headers=headers)
    again = await client.post(URL, content=body, headers=headers)
    assert again.json() == {"status": "queued"}  # stored, not applied yet
    async with runtime.session_factory() as session:
        await session.execute(update(InboxEvent).values(status=InboxStatus.PROCESSED.value))
        await session.commit()
    body, headers = signed(payload)
    third = await client.post(URL, content=body, headers=headers)
    assert third.json() == {"status": "already_processed"}
    [row] = await stored(runtime)
    assert row.status == "processed"


async def test_unknown_event_types_are_stored_and_acknowledged(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body, headers = signed(event_payload("treasury.something_new", obj={"id": "tr_1", "object": "x"}))
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    [row] = await stored(runtime)
    assert row.type == "treasury.something_new"


async def test_livemode_and_api_version_mismatches_are_stored_and_flagged(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    live = event_payload(livemode=True)
    old = event_payload(api_version="2020-08-27")
    for payload in (live, old):
        body, headers = signed(payload)
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    flags = {row.event_id: row.flag for row in await stored(runtime)}
    assert flags == {live["id"]: "livemode_mismatch", old["id"]: "api_version_mismatch"}


async def test_concurrent_duplicates_store_one_row_each(client: httpx.AsyncClient, runtime: Runtime) -> None:
    payloads = [event_payload() for _ in range(50)]
    requests = [signed(p) for p in payloads for _ in range(3)]
    responses = await asyncio.gather(*(client.post(URL, content=b, headers=h) for b, h in requests))
    assert {r.status_code for r in responses} == {200}
    async with runtime.session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(InboxEvent))
    assert count == 50


async def test_database_down_answers_503_and_stores_nothing(backend: str, settings: Settings) -> None:
    url = (
        "sqlite+aiosqlite:////nonexistent-dir/billhook.db"
        if backend == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    )
    down = Runtime.build(make_settings(url))
    transport = httpx.ASGITransport(app=billhook_app(down))
    async with httpx.AsyncClient(transport=transport, base_url="http://billhook.test") as client:
        body, headers = signed(event_payload())
        response = await client.post(URL, content=body, headers=headers)
    await down.aclose()
    assert (response.status_code, error_code(response)) == (503, "unavailable")


async def test_the_fast_path_answers_webhooks_and_passes_the_rest_on(runtime: Runtime) -> None:
    app = billhook_app(runtime)
    transport = httpx.ASGITransport(app=WebhookFastPath(app, WebhookSecrets([SECRET])))
    async with httpx.AsyncClient(transport=transport, base_url="http://billhook.test") as client:
        body, headers = signed(event_payload())
        answered = await client.post(URL, content=body, headers=headers)
        assert answered.json() == {"status": "queued"}
        assert answered.headers["x-request-id"].startswith("req_")
        bad = await client.post(URL, content=body, headers={"Stripe-Signature": "t=1,v1=00"})
        assert (bad.status_code, error_code(bad)) == (400, "timestamp_out_of_tolerance")
        elsewhere = await client.get("/nothing-here")
        assert (elsewhere.status_code, error_code(elsewhere)) == (404, "not_found")
    assert len(await stored(runtime)) == 1


async def test_a_delivery_after_the_database_dropped_its_connections_is_still_stored(
    backend: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """As after a PostgreSQL restart: the writer's kept connections are dead; none is lost."""
    first = event_payload()
    body, headers = signed(first)
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    if backend == "postgresql":
        async with runtime.session_factory() as session:
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    second = event_payload()
    body, headers = signed(second)
    response = await client.post(URL, content=body, headers=headers)
    assert (response.status_code, response.json()) == (200, {"status": "queued"})
    assert {row.event_id for row in await stored(runtime)} == {first["id"], second["id"]}

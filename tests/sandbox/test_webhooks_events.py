"""Webhook delivery (signatures, retries, chaos switches, log) and the events API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import stripe

from tests.support.sandbox import Harness
from tests.support.sandbox_factories import make_customer, make_price, subscribe


def delivered_ids(h: Harness) -> list[str]:
    return [json.loads(d.payload)["id"] for d in h.receiver.deliveries]


async def deliveries(h: Harness, **params: Any) -> list[dict[str, Any]]:
    response = await h.api("GET", "/v1/test_helpers/sandbox/deliveries", **params)
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_failed_delivery_is_retried_and_logged(sandbox: Harness) -> None:
    secret = await sandbox.add_endpoint()
    sandbox.receiver.fail_next = 2
    customer = await make_customer(sandbox)
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)
    event = stripe.Webhook.construct_event(
        sandbox.receiver.deliveries[0].payload, sandbox.receiver.deliveries[0].signature, secret
    )
    assert event.type == "customer.created" and event.data.object.id == customer.id
    log = await deliveries(sandbox, event=event.id)
    assert [(d["attempt"], d["state"], d["status_code"]) for d in reversed(log)] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "succeeded", 200),
    ]


async def test_endpoint_only_receives_its_enabled_events(sandbox: Harness) -> None:
    await sandbox.add_endpoint(events=["invoice.paid"])
    price = await make_price(sandbox)
    await subscribe(sandbox, price)
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)
    assert json.loads(sandbox.receiver.deliveries[0].payload)["type"] == "invoice.paid"


async def test_chaos_drop_delivers_nothing_but_events_stay_listed(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    response = await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", drop="1")
    assert response.json()["drop"] == 1.0
    customer = await make_customer(sandbox)
    listed = await sandbox.client.v1.events.list_async(params={"type": "customer.created"})
    assert listed.data[0].data.object.id == customer.id
    assert listed.data[0].pending_webhooks == 1
    log = await deliveries(sandbox, event=listed.data[0].id)
    assert [d["state"] for d in log] == ["dropped"]
    assert sandbox.receiver.deliveries == []


async def test_chaos_duplicate_delivers_each_event_twice(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", duplicate="true")
    await make_customer(sandbox)
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 2)
    first, second = delivered_ids(sandbox)
    assert first == second


async def test_chaos_delay_holds_deliveries_back(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", delay="0.5")
    await make_customer(sandbox)
    await asyncio.sleep(0.3)
    assert sandbox.receiver.deliveries == []
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)


async def test_chaos_out_of_order_still_delivers_every_event(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", out_of_order="true", delay="0.2")
    made = [await make_customer(sandbox, f"c{i}@example.com") for i in range(6)]
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == len(made))
    events = await sandbox.client.v1.events.list_async()
    assert sorted(delivered_ids(sandbox)) == sorted(e.id for e in events.data)


async def test_chaos_off_restores_normal_delivery(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", drop="1", duplicate="true")
    off = await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", off="true")
    assert off.json() == {
        "object": "sandbox.chaos",
        "out_of_order": False,
        "duplicate": False,
        "delay": 0.0,
        "drop": 0.0,
    }
    await make_customer(sandbox)
    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)


async def test_events_filter_by_type_and_wildcard(sandbox: Harness) -> None:
    price = await make_price(sandbox)
    await subscribe(sandbox, price)
    exact = await sandbox.client.v1.events.list_async(params={"type": "invoice.paid"})
    assert [e.type for e in exact.data] == ["invoice.paid"]
    wildcard = await sandbox.event_types(type="invoice.*")
    assert set(wildcard) == {
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
    }


async def test_events_carry_the_api_request_that_caused_them(sandbox: Harness) -> None:
    customer = await sandbox.client.v1.customers.create_async(
        params={"email": "a@example.com"}, options={"idempotency_key": "k-1"}
    )
    event = (await sandbox.client.v1.events.list_async()).data[0]
    assert event.request.id.startswith("req_") and event.request.idempotency_key == "k-1"  # type: ignore[union-attr]
    assert event.api_version == "2026-10-28.endive" and event.livemode is False
    assert event.data.object.id == customer.id
    again = await sandbox.client.v1.events.retrieve_async(event.id)
    assert again.id == event.id


async def test_updated_events_carry_previous_attributes(sandbox: Harness) -> None:
    customer = await make_customer(sandbox)
    await sandbox.client.v1.customers.update_async(customer.id, params={"name": "Ada"})
    event = (await sandbox.client.v1.events.list_async(params={"type": "customer.updated"})).data[0]
    assert event.data.previous_attributes.to_dict() == {"name": None}  # type: ignore[union-attr]


async def test_events_paginate_and_filter_by_created(sandbox: Harness) -> None:
    for i in range(4):
        await make_customer(sandbox, f"c{i}@example.com")
    first = await sandbox.client.v1.events.list_async(params={"limit": 3})
    rest = await sandbox.client.v1.events.list_async(params={"limit": 3, "starting_after": first.data[-1].id})
    assert first.has_more and not rest.has_more and len(rest.data) == 1
    await sandbox.advance(days=2)
    late = await make_customer(sandbox, "late@example.com")
    clock = (await sandbox.api("GET", "/v1/test_helpers/sandbox/clock")).json()
    recent = await sandbox.client.v1.events.list_async(params={"created": {"gte": clock["now"] - 60}})
    assert [e.data.object.id for e in recent.data] == [late.id]


async def test_events_older_than_thirty_days_are_gone(sandbox: Harness) -> None:
    await make_customer(sandbox)
    old = (await sandbox.client.v1.events.list_async()).data[0]
    await sandbox.advance(days=31)
    assert (await sandbox.client.v1.events.list_async()).data == []
    try:
        await sandbox.client.v1.events.retrieve_async(old.id)
    except stripe.InvalidRequestError as error:
        assert error.http_status == 404
        return
    raise AssertionError("an expired event was still served")


async def test_webhook_endpoints_list_and_delete(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    endpoints = await sandbox.client.v1.webhook_endpoints.list_async()
    assert len(endpoints.data) == 1 and endpoints.data[0].to_dict().get("secret") is None
    deleted = await sandbox.client.v1.webhook_endpoints.delete_async(endpoints.data[0].id)
    assert deleted.deleted is True
    assert (await sandbox.client.v1.webhook_endpoints.list_async()).data == []


async def no_delivery_pending(h: Harness) -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while any(d["state"] == "pending" for d in await deliveries(h, limit=1000)):
        assert asyncio.get_running_loop().time() < deadline, "a delivery is still pending"
        await asyncio.sleep(0.02)


async def test_an_event_owed_to_an_endpoint_outlives_a_long_jump_and_is_delivered(
    sandbox: Harness,
) -> None:
    await sandbox.add_endpoint()
    await sandbox.api("POST", "/v1/test_helpers/sandbox/chaos", delay="0.5")
    customer = await make_customer(sandbox)
    await sandbox.advance(days=40)  # before the delivery is due in real time

    await sandbox.wait_for(lambda: len(sandbox.receiver.deliveries) == 1)
    assert json.loads(sandbox.receiver.deliveries[0].payload)["data"]["object"]["id"] == customer.id
    await no_delivery_pending(sandbox)
    await sandbox.advance(days=29)  # retention counts from the delivery
    assert await sandbox.event_types() == ["customer.created"]
    await sandbox.advance(days=2)
    assert await sandbox.event_types() == []


async def test_a_year_long_jump_delivers_every_event_in_order(sandbox: Harness) -> None:
    await sandbox.add_endpoint()
    await subscribe(sandbox, await make_price(sandbox))
    await sandbox.advance(days=400)
    await no_delivery_pending(sandbox)

    log = await deliveries(sandbox, limit=1000)
    assert log and all(d["state"] == "succeeded" and d["attempt"] == 1 for d in log)
    sent = [json.loads(d.payload) for d in sandbox.receiver.deliveries]
    assert len(sent) == len(log) == len({e["id"] for e in sent})
    assert [e["created"] for e in sent] == sorted(e["created"] for e in sent)  # in the clock's order
    assert sum(e["type"] == "invoice.paid" for e in sent) == 14  # the first, and 13 renewals
    # Still listed: whatever was delivered in the last 30 days of sandbox time.
    listed = await sandbox.client.v1.events.list_async(params={"limit": 100})
    assert {e.id for e in listed.data} <= {e["id"] for e in sent} and listed.data

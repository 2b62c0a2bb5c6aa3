"""Whatever arrives, the receiver answers 2xx or 4xx, never 5xx (hypothesis)."""

from __future__ import annotations

import json
import time

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billhook.inbox.signature import sign
from tests.support.inbox import SECRET, event_payload

URL = "/api/payments/webhook"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "event", "mangled_event"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    event = event_payload(draw(st.text(min_size=1, max_size=120)))
    event["id"] = draw(st.one_of(st.text(max_size=300), st.integers(), st.none()))
    if kind == "mangled_event":
        event["data"] = draw(json_values)
        event["created"] = draw(st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=5)))
        event["livemode"] = draw(json_values)
    return json.dumps(event).encode()


@st.composite
def headers(draw: st.DrawFn, body: bytes) -> dict[str, str]:
    kind = draw(st.sampled_from(["none", "random", "valid", "valid_bad_time"]))
    if kind == "none":
        return {}
    if kind == "random":
        value = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200))
        return {"Stripe-Signature": value}
    now = int(time.time())
    at = now if kind == "valid" else draw(st.integers(min_value=0, max_value=2**40))
    return {"Stripe-Signature": f"t={at},v1={sign(body, SECRET, at)}"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_no_input_yields_a_server_error(client: httpx.AsyncClient, data: st.DataObject) -> None:
    body = data.draw(bodies())
    method = data.draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]))
    response = await client.request(method, URL, content=body, headers=data.draw(headers(body)))
    assert response.status_code in {200, 400, 405, 413}, response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) >= {"code", "message"}

"""Whatever a client sends, the API answers in Stripe's error shape and never with a 500."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sandbox import TEST_KEY, SandboxServer

ENDPOINTS = [
    "/v1/customers",
    "/v1/products",
    "/v1/prices",
    "/v1/payment_methods",
    "/v1/payment_intents",
    "/v1/checkout/sessions",
    "/v1/subscriptions",
    "/v1/refunds",
    "/v1/setup_intents",
    "/v1/billing_portal/sessions",
    "/v1/webhook_endpoints",
    "/v1/invoices/create_preview",
    "/v1/test_helpers/sandbox/chaos",
    "/v1/test_helpers/sandbox/advance",
]
NAMES = [
    "email",
    "customer",
    "price",
    "product",
    "currency",
    "unit_amount",
    "amount",
    "mode",
    "line_items",
    "items",
    "recurring",
    "metadata",
    "expand",
    "payment_method",
    "confirm",
    "success_url",
    "url",
    "lookup_key",
    "subscription",
    "subscription_details",
    "drop",
    "days",
    "type",
    "card",
    "name",
]
SUFFIXES = [
    "",
    "[]",
    "[0]",
    "[0][price]",
    "[0][quantity]",
    "[interval]",
    "[a]",
    "[number]",
    "[0][id]",
    "[x][y]",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "usd",
            "month",
            "true",
            "-1",
            "0",
            "99999999999999999999",
            "price_x",
            "cus_x",
            "subscription",
            "payment",
            "setup",
            "pm_card_visa",
            "1e3",
            "http://x",
        ]
    ),
    st.text(max_size=8),
)
PAIRS = st.lists(
    st.tuples(st.builds(lambda n, s: n + s, st.sampled_from(NAMES), st.sampled_from(SUFFIXES)), VALUES),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), pairs=PAIRS)
def test_random_params_get_a_stripe_shaped_answer(
    server: SandboxServer, endpoint: str, pairs: list[tuple[str, str]]
) -> None:
    response = httpx.post(
        server.config.base_url + endpoint,
        content=urlencode(pairs),
        headers={"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code in (200, 400, 402, 404), response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["type"] in ("invalid_request_error", "card_error", "idempotency_error")
        assert error["message"]

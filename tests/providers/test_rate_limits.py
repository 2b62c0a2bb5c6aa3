"""``StripeProvider`` within Stripe's limits: 429/5xx retried, one idempotency key, 503 at the edge.

A tiny loopback server stands in for Stripe and answers from a script of statuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from billhook.errors import ProviderError, ProviderRateLimited
from billhook.http.errors import install_error_handlers
from billhook.providers.stripe import StripeProvider
from billhook.providers.stripe.actions import StripeActions
from billhook.providers.stripe.factory import rate_limits
from billhook.providers.stripe.limits import RateLimits, endpoint_of
from tests.support.databases import make_settings
from tests.support.server import ServerThread, free_port

CUSTOMER = {"id": "cus_Q1", "object": "customer", "email": "ada@example.com", "metadata": {}}


@dataclass
class ScriptedStripe:
    """Answers each request with the next scripted status (then 200), and records what it got."""

    script: list[int] = field(default_factory=list)
    retry_after: str | None = None
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def __call__(self, request: Request) -> Response:
        self.seen.append((request.method, request.url.path, request.headers.get("idempotency-key")))
        status = self.script.pop(0) if self.script else 200
        if status == 200:
            return JSONResponse(CUSTOMER)
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        code = "rate_limit" if status == 429 else "parameter_invalid"
        error = {"type": "invalid_request_error", "code": code, "message": f"answered {status}"}
        return JSONResponse({"error": error}, status_code=status, headers=headers)


@pytest.fixture
def stripe_api() -> Iterator[tuple[ScriptedStripe, str]]:
    scripted = ScriptedStripe()
    app = FastAPI()
    app.add_api_route("/{path:path}", scripted, methods=["GET", "POST"])
    port = free_port()
    server = ServerThread(app, port)
    server.start()
    yield scripted, f"http://127.0.0.1:{port}"
    server.stop()


def fast(**overrides: float | int | None) -> RateLimits:
    return RateLimits.unlimited(base_wait=0.01, max_wait=0.5, **overrides)


async def test_a_429_is_retried_until_it_passes(stripe_api: tuple[ScriptedStripe, str]) -> None:
    scripted, base = stripe_api
    scripted.script = [429, 429]
    provider = StripeProvider("sk_live_x", base, limits=fast(max_attempts=4))
    customer = await provider.get_customer("cus_Q1")
    await provider.aclose()
    assert customer.email == "ada@example.com"
    assert len(scripted.seen) == 3 and provider.requests_sent == 3


async def test_5xx_is_retried_and_4xx_is_not(stripe_api: tuple[ScriptedStripe, str]) -> None:
    scripted, base = stripe_api
    scripted.script = [500, 503, 400]
    provider = StripeProvider("sk_live_x", base, limits=fast(max_attempts=5))
    with pytest.raises(ProviderError) as raised:
        await provider.get_customer("cus_Q1")
    await provider.aclose()
    assert raised.value.status_code == 502
    assert len(scripted.seen) == 3


async def test_every_attempt_of_a_post_sends_the_same_idempotency_key(
    stripe_api: tuple[ScriptedStripe, str],
) -> None:
    scripted, base = stripe_api
    scripted.script = [200, 429, 500]  # the lookup passes; the create is refused twice
    provider = StripeProvider("sk_live_x", base, limits=fast())
    actions = StripeActions(provider.client)
    await actions.find_or_create_customer(email="ada@example.com", user_id="usr_1", idempotency_key="k-1")
    await provider.aclose()
    posts = [key for method, _path, key in scripted.seen if method == "POST"]
    assert posts == ["k-1", "k-1", "k-1"]


async def test_a_429_that_persists_is_503_with_retry_after(stripe_api: tuple[ScriptedStripe, str]) -> None:
    scripted, base = stripe_api
    scripted.script = [429] * 10
    scripted.retry_after = "0.05"
    provider = StripeProvider("sk_live_x", base, limits=fast(max_attempts=3))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/customer")
    async def customer() -> dict[str, str | None]:
        return {"email": (await provider.get_customer("cus_Q1")).email}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/customer")
    await provider.aclose()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "provider_rate_limited"
    assert len(scripted.seen) == 3


async def test_a_retry_after_longer_than_we_wait_is_not_retried(
    stripe_api: tuple[ScriptedStripe, str],
) -> None:
    scripted, base = stripe_api
    scripted.script = [429, 429]
    scripted.retry_after = "30"
    provider = StripeProvider("sk_live_x", base, limits=fast(max_attempts=4))
    with pytest.raises(ProviderRateLimited) as raised:
        await provider.get_customer("cus_Q1")
    await provider.aclose()
    assert raised.value.details["retry_after_seconds"] == 30
    assert len(scripted.seen) == 1


async def test_retry_after_is_waited_for(stripe_api: tuple[ScriptedStripe, str]) -> None:
    scripted, base = stripe_api
    scripted.script = [429]
    scripted.retry_after = "0.4"
    provider = StripeProvider("sk_live_x", base, limits=fast(max_attempts=2))
    started = time.monotonic()
    await provider.get_customer("cus_Q1")
    await provider.aclose()
    assert time.monotonic() - started >= 0.4


async def test_the_account_bucket_spaces_requests(stripe_api: tuple[ScriptedStripe, str]) -> None:
    _scripted, base = stripe_api
    provider = StripeProvider("sk_live_x", base, limits=fast(requests_per_second=20))
    started = time.monotonic()
    for _ in range(30):  # a burst of 20, then one every 50 ms
        await provider.get_customer("cus_Q1")
    await provider.aclose()
    assert time.monotonic() - started >= 0.45


async def test_the_endpoint_bucket_spaces_one_endpoint(stripe_api: tuple[ScriptedStripe, str]) -> None:
    _scripted, base = stripe_api
    provider = StripeProvider("sk_live_x", base, limits=fast(endpoint_requests_per_second=10))
    started = time.monotonic()
    for n in range(15):
        await provider.get_customer(f"cus_Q{n}")
    await provider.aclose()
    assert time.monotonic() - started >= 0.45


def test_an_endpoint_is_the_operation_not_the_object() -> None:
    base = "https://api.stripe.com"
    assert endpoint_of("get", f"{base}/v1/payment_intents/pi_3Px9aB") == "GET /v1/payment_intents/{id}"
    expanded = endpoint_of("GET", f"{base}/v1/payment_intents/pi_1Zz?expand[]=x")
    assert expanded == "GET /v1/payment_intents/{id}"
    assert endpoint_of("POST", f"{base}/v1/payment_intents") == "POST /v1/payment_intents"
    assert endpoint_of("GET", f"{base}/v1/checkout/sessions/cs_test_a1") == "GET /v1/checkout/sessions/{id}"


def test_defaults_are_stripes_documented_limits() -> None:
    live = rate_limits(make_settings("sqlite+aiosqlite://", stripe_secret_key="sk_live_1"))
    test = rate_limits(make_settings("sqlite+aiosqlite://", stripe_secret_key="sk_test_1"))
    sandbox = rate_limits(make_settings("sqlite+aiosqlite://"))
    assert (live.requests_per_second, live.endpoint_requests_per_second) == (100, 25)
    assert (test.requests_per_second, test.endpoint_requests_per_second) == (25, 25)
    assert (sandbox.requests_per_second, sandbox.endpoint_requests_per_second) == (None, None)


def test_limits_are_configurable() -> None:
    settings = make_settings(
        "sqlite+aiosqlite://",
        stripe_secret_key="sk_live_1",
        billhook_stripe_rate_limit=400,
        billhook_stripe_endpoint_rate_limit=80,
        billhook_stripe_max_attempts=2,
    )
    limits = rate_limits(settings)
    assert limits.requests_per_second == 400
    assert (limits.endpoint_requests_per_second, limits.max_attempts) == (80, 2)

"""Calling Stripe at the speed Stripe allows: a client-side limiter and retries of 429 and 5xx.

Stripe's "Rate limits" page (docs.stripe.com/rate-limits): 100 requests/s per account in live
mode, 25 in test mode, and 25 requests/s per endpoint unless stated otherwise, where an endpoint
is one named operation (``GET /v1/payment_intents/{id}`` for every id). Past them Stripe answers
429 ("Handling limiting gracefully": back off exponentially, with jitter). So every request first
takes a token from the account's bucket and from its endpoint's (:mod:`aiolimiter`, leaky
buckets), and a 429, a 5xx, a 409 lock timeout or a connection error is retried by
:mod:`tenacity` with exponential backoff and full jitter, waiting at least what ``Retry-After``
asks. Every attempt sends the very same headers, so a POST keeps its ``Idempotency-Key``: Stripe
replays the first outcome instead of acting twice. What is still refused after the last attempt
goes back to the SDK, which raises it (a 429 as ``stripe.RateLimitError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from billhook.errors import ProviderRateLimited

Response = tuple[Any, int, Mapping[str, str]]

LIVE_RATE = 100.0  # requests per second per account, live mode
TEST_RATE = 25.0  # test mode (sandboxes)
ENDPOINT_RATE = 25.0  # per endpoint, unless Stripe states otherwise

# A path segment that is an object id rather than a resource name: Stripe's ids are a prefix and
# random base62 (``sub_1Px…``); resource names are lower-case words (``payment_intents``).
_OBJECT_ID = re.compile(r"[A-Z0-9]")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """How fast and how persistently to call the API.

    ``requests_per_second``/``endpoint_requests_per_second`` of ``None`` turn that bucket off
    (the offline sandbox has no limits). ``max_attempts`` counts the first try; waits grow from
    ``base_wait`` up to ``max_wait`` seconds, and a ``Retry-After`` longer than ``max_wait`` is
    not waited for: the caller gets the 429 (an API request answers 503 with ``Retry-After``).
    """

    requests_per_second: float | None = LIVE_RATE
    endpoint_requests_per_second: float | None = ENDPOINT_RATE
    max_attempts: int = 4
    base_wait: float = 0.25
    max_wait: float = 4.0

    @classmethod
    def for_key(cls, secret_key: str, **overrides: Any) -> RateLimits:
        """Stripe's documented defaults for the key's mode (live keys ``sk_live_``/``rk_live_``)."""
        live = secret_key.startswith(("sk_live_", "rk_live_"))
        values: dict[str, Any] = {"requests_per_second": LIVE_RATE if live else TEST_RATE}
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)

    @classmethod
    def unlimited(cls, **overrides: Any) -> RateLimits:
        values: dict[str, Any] = {"requests_per_second": None, "endpoint_requests_per_second": None}
        values.update(overrides)
        return cls(**values)


def endpoint_of(method: str, url: str) -> str:
    """The endpoint a request counts against: its method and path with object ids as ``{id}``."""
    segments = urlsplit(url).path.strip("/").split("/")
    named = [segments[0], *("{id}" if _OBJECT_ID.search(s) else s for s in segments[1:])] if segments else []
    return f"{method.upper()} /{'/'.join(named)}"


def _retry_after(response: Response) -> float | None:
    headers = response[2]
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: Stripe sends seconds; fall back to our own backoff


def _should_retry_response(response: Response) -> bool:
    """429, 409 (lock timeout), 5xx; ``Stripe-Should-Retry`` overrides either way."""
    _body, status, headers = response
    advice = headers.get("stripe-should-retry") if headers is not None else None
    if advice in {"true", "false"}:
        return advice == "true"
    return status in {409, 429} or status >= 500


def _should_retry_error(exc: BaseException) -> bool:
    return isinstance(exc, stripe.APIConnectionError) and exc.should_retry


class LimitedHTTPClient(stripe.HTTPXClient):
    """The SDK's httpx client with the account and endpoint buckets and tenacity retries."""

    def __init__(self, limits: RateLimits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self._account = _bucket(limits.requests_per_second)
        self._endpoint_rate = limits.endpoint_requests_per_second
        self._endpoints: dict[str, AsyncLimiter] = {}
        self.attempts = 0  # requests sent, retries included (for metrics and tests)

    async def request_with_retries_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> Response:
        headers = self._add_telemetry_header(headers)
        endpoint = endpoint_of(method, url)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.limits.max_attempts),
            wait=self._wait,
            retry=retry_if_result(self._retryable) | retry_if_exception(_should_retry_error),
            retry_error_callback=_last_outcome,
            sleep=self.sleep_async,
            reraise=True,
        )
        response: Response = await retrying(self._attempt, method, url, endpoint, headers, post_data)
        return response

    async def _attempt(
        self, method: str, url: str, endpoint: str, headers: Mapping[str, str], post_data: Any
    ) -> Response:
        if self._account is not None:
            await self._account.acquire()
        bucket = self._endpoint_bucket(endpoint)
        if bucket is not None:
            await bucket.acquire()
        self.attempts += 1
        return await self.request_async(method, url, headers, post_data)

    def _endpoint_bucket(self, endpoint: str) -> AsyncLimiter | None:
        if self._endpoint_rate is None:
            return None
        bucket = self._endpoints.get(endpoint)
        if bucket is None:
            bucket = self._endpoints[endpoint] = AsyncLimiter(self._endpoint_rate, 1.0)
        return bucket

    def _retryable(self, response: Response) -> bool:
        if not _should_retry_response(response):
            return False
        asked = _retry_after(response)
        return asked is None or asked <= self.limits.max_wait

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=self.limits.base_wait, max=self.limits.max_wait)(state)
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = _retry_after(outcome.result())
            if asked is not None:
                return max(asked, backoff)
        return float(backoff)


def _bucket(rate: float | None) -> AsyncLimiter | None:
    return AsyncLimiter(rate, 1.0) if rate else None


def _last_outcome(state: RetryCallState) -> Any:
    """After the last attempt: hand the SDK the last response (or raise the last error)."""
    assert state.outcome is not None
    return state.outcome.result()


def retry_after_of(exc: stripe.StripeError) -> int:
    """Whole seconds to wait: the error's ``Retry-After`` if Stripe sent one, else one second."""
    headers = exc.headers or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(1, round(float(value))) if value is not None else 1
    except ValueError:
        return 1


def rate_limited(exc: stripe.StripeError, message: str) -> ProviderRateLimited:
    """A 429 that outlasted our retries: 503 with ``Retry-After`` on an API request, never a 502."""
    return ProviderRateLimited(message, provider_code=exc.code, retry_after_seconds=retry_after_of(exc))

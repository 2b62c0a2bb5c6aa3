"""Failed logins earn growing waits (429 with Retry-After) per account and per address; never a lock."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from billhook.models import OutboxJob
from tests.support.app_harness import TEST_THROTTLE, Harness

RIGHT = "correct horse"


async def login(
    h: Harness, email: str = "ada@example.com", password: str = "wrong password"
) -> httpx.Response:
    return await h.client.post("/api/auth/login", json={"email": email, "password": password})


async def fail_until_waiting(h: Harness, email: str = "ada@example.com") -> int:
    """Fail as often as allowed without waiting; the Retry-After of the first refusal."""
    while (response := await login(h, email)).status_code == 401:
        pass
    assert response.status_code == 429
    return int(response.headers["retry-after"])


async def test_free_failures_then_doubling_waits_answered_429_with_retry_after(h: Harness) -> None:
    await h.register()
    statuses = [(await login(h)).status_code for _ in range(TEST_THROTTLE.account_slow_after + 1)]
    assert statuses == [401] * (TEST_THROTTLE.account_slow_after + 1)

    waits = []
    for _ in range(3):
        refused = await login(h, password=RIGHT)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        waits.append(int(refused.headers["retry-after"]))
        h.clock.advance(timedelta(seconds=waits[-1]))
        assert (await login(h)).status_code == 401
    assert waits == [1, 2, 4]


async def test_waits_are_capped_and_the_right_password_always_works_after_one(h: Harness) -> None:
    await h.register()
    for _ in range(12):  # an attacker who keeps failing on ada's email, waiting out every delay
        h.clock.advance(timedelta(seconds=await fail_until_waiting(h)))
    wait = await fail_until_waiting(h)
    assert wait == TEST_THROTTLE.max_delay_seconds

    h.clock.advance(timedelta(seconds=wait))
    assert (await login(h, password=RIGHT)).status_code == 200


async def test_a_success_clears_the_account_count(h: Harness) -> None:
    await h.register()
    h.clock.advance(timedelta(seconds=await fail_until_waiting(h)))
    assert (await login(h, password=RIGHT)).status_code == 200
    assert (await login(h)).status_code == 401  # counting starts again: free failures first
    assert (await login(h)).status_code == 401


async def test_one_address_trying_many_accounts_is_slowed(h: Harness) -> None:
    for n in range(TEST_THROTTLE.address_slow_after + 1):
        assert (await login(h, f"user{n}@example.com")).status_code == 401
    refused = await login(h, "someone-else@example.com")
    assert refused.status_code == 429
    h.clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
    assert (await login(h, "someone-else@example.com")).status_code == 401


async def test_a_slowed_account_does_not_slow_another(h: Harness) -> None:
    await h.register()
    await h.register("bob@example.com")
    await fail_until_waiting(h)
    assert (await login(h, "bob@example.com", RIGHT)).status_code == 200


async def test_a_password_reset_works_while_waiting_and_clears_the_wait(h: Harness) -> None:
    await h.register()
    await fail_until_waiting(h)

    assert (
        await h.client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    ).status_code == 202
    async with h.runtime.session_factory() as session:
        job = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.type == "email.send", OutboxJob.key.like("%password_reset%")
                )
            )
        ).one()
    token = parse_qs(urlsplit(job.payload["context"]["reset_url"]).query)["token"][0]
    body = {"token": token, "password": "a brand new password"}
    assert (await h.client.post("/api/auth/password-reset/confirm", json=body)).status_code == 200

    assert (await login(h, password="a brand new password")).status_code == 200

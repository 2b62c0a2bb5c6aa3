"""Failed logins are slowed, then refused with 429, per account and per client address."""

from __future__ import annotations

from tests.support.app_harness import TEST_THROTTLE, Harness


async def fail(h: Harness, email: str = "ada@example.com") -> int:
    response = await h.client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
    return response.status_code


async def test_failures_past_the_soft_limit_are_slowed_then_refused(h: Harness) -> None:
    await h.register()
    statuses = [await fail(h) for _ in range(TEST_THROTTLE.account_block_after)]
    assert statuses == [401] * TEST_THROTTLE.account_block_after
    # Two free failures, then a doubling wait before each attempt.
    assert h.sleeps == [0.25, 0.5, 1.0]
    blocked = await h.client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "correct horse"}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert blocked.json()["error"]["retry_after_seconds"] == 900


async def test_a_success_clears_the_account_count(h: Harness) -> None:
    await h.register()
    for _ in range(TEST_THROTTLE.account_block_after - 1):
        await fail(h)
    assert await h.token()
    assert await fail(h) == 401  # counting starts again


async def test_one_address_trying_many_accounts_is_refused(h: Harness) -> None:
    for n in range(TEST_THROTTLE.address_block_after):
        assert await fail(h, f"user{n}@example.com") == 401
    assert await fail(h, "someone-else@example.com") == 429


async def test_one_blocked_account_does_not_block_another(h: Harness) -> None:
    await h.register()
    await h.register("bob@example.com")
    for _ in range(TEST_THROTTLE.account_block_after):
        await fail(h)
    assert await fail(h) == 429
    assert await h.token("bob@example.com")

"""Password reset: always 202, one email job per request for known users, single-use and expiring."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from billhook.models import OutboxJob
from tests.support.app_harness import Harness


async def reset_jobs(h: Harness) -> list[OutboxJob]:
    async with h.runtime.session_factory() as session:
        return list(
            (
                await session.scalars(
                    select(OutboxJob).where(
                        OutboxJob.type == "email.send", OutboxJob.key.like("%password_reset%")
                    )
                )
            ).all()
        )


async def request_reset_token(h: Harness, email: str = "ada@example.com") -> str:
    response = await h.client.post("/api/auth/password-reset", json={"email": email})
    assert response.status_code == 202
    job = (await reset_jobs(h))[-1]
    return parse_qs(urlsplit(job.payload["context"]["reset_url"]).query)["token"][0]


async def test_a_known_email_gets_one_email_job_with_a_reset_link(h: Harness) -> None:
    await h.register()
    response = await h.client.post("/api/auth/password-reset", json={"email": "ADA@example.com"})
    assert response.status_code == 202
    [job] = await reset_jobs(h)
    payload = job.payload
    assert payload["template"] == "password_reset"
    assert payload["to"] == "ada@example.com"
    assert payload["context"]["reset_url"].startswith(f"{h.runtime.settings.billhook_base_url}/reset?token=")
    assert {"name", "link_valid_hours"} <= set(payload["context"])
    assert job.key == f"email:password_reset:ada@example.com:{payload['key_object']}"


async def test_an_unknown_email_gets_the_same_202_and_no_job(h: Harness) -> None:
    await h.register()
    known = await h.client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
    unknown = await h.client.post("/api/auth/password-reset", json={"email": "bob@example.com"})
    assert unknown.status_code == 202
    assert unknown.json() == known.json()
    assert len(await reset_jobs(h)) == 1


async def test_a_malformed_email_is_422(h: Harness) -> None:
    response = await h.client.post("/api/auth/password-reset", json={"email": "nope"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("email:")


async def test_reset_emails_per_address_are_capped(h: Harness) -> None:
    await h.register()
    for _ in range(7):
        assert (
            await h.client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
        ).status_code == 202
    assert len(await reset_jobs(h)) == 5


async def test_confirm_sets_the_new_password_and_ends_old_sessions(h: Harness) -> None:
    headers = await h.bearer()
    token = await request_reset_token(h)
    response = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "brand new secret"}
    )
    assert response.status_code == 200
    assert (await h.client.get("/api/me", headers=headers)).status_code == 401
    old = await h.client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "correct horse"}
    )
    assert old.status_code == 401
    assert await h.token(password="brand new secret")


async def test_a_reset_token_works_once(h: Harness) -> None:
    await h.register()
    token = await request_reset_token(h)
    first = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "first new pw"}
    )
    again = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "second new pw"}
    )
    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "token_used"
    assert await h.token(password="first new pw")


async def test_a_reset_token_expires_after_an_hour(h: Harness) -> None:
    await h.register()
    token = await request_reset_token(h)
    h.clock.advance(timedelta(hours=1, seconds=1))
    response = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "too late pw"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_expired"


async def test_a_forged_or_foreign_token_is_400(h: Harness) -> None:
    headers = await h.bearer()
    session_token = headers["Authorization"].split()[1]
    for token in ("forged", session_token, (await request_reset_token(h))[:-2] + "xx"):
        response = await h.client.post(
            "/api/auth/password-reset/confirm", json={"token": token, "password": "whatever pw"}
        )
        assert response.status_code == 400, token
        assert response.json()["error"]["code"] == "token_invalid"


async def test_confirm_with_a_short_password_is_422_and_keeps_the_token_usable(h: Harness) -> None:
    await h.register()
    token = await request_reset_token(h)
    short = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert short.status_code == 422
    assert short.json()["error"]["message"].startswith("password:")
    ok = await h.client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "long enough"}
    )
    assert ok.status_code == 200

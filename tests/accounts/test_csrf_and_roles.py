"""Cookie sessions need a CSRF token for writes; bearer tokens do not; require_role answers 403."""

from __future__ import annotations

import pytest
from fastapi import Depends

from billhook.accounts import repository
from billhook.accounts.deps import SESSION_COOKIE, require_role
from billhook.models import User
from tests.support.app_harness import Harness
from tests.support.forms import form

BASE_URL = "http://127.0.0.1:8000"  # the test settings' BILLHOOK_BASE_URL


async def cookie_session(h: Harness) -> None:
    await h.register()
    h.client.cookies.set(SESSION_COOKIE, await h.token())


async def test_a_cookie_session_reads_without_a_token(h: Harness) -> None:
    await cookie_session(h)
    assert (await h.client.get("/api/me")).status_code == 200


async def test_a_cookie_write_without_a_csrf_token_is_403(h: Harness) -> None:
    await cookie_session(h)
    response = await h.client.post("/api/auth/logout")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    wrong = await h.client.post("/api/auth/logout", headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert (await h.client.get("/api/me")).status_code == 200


async def test_a_cookie_write_with_the_csrf_token_works(h: Harness) -> None:
    await cookie_session(h)
    token = (await h.client.get("/api/auth/csrf")).json()["csrf_token"]
    response = await h.client.post("/api/auth/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 204
    assert (await h.client.get("/api/me")).status_code == 401


async def test_a_csrf_token_from_another_session_is_refused(h: Harness) -> None:
    await cookie_session(h)
    token = (await h.client.get("/api/auth/csrf")).json()["csrf_token"]
    h.client.cookies.set(SESSION_COOKIE, await h.token())  # a new session, same browser
    assert (await h.client.post("/api/auth/logout", headers={"X-CSRF-Token": token})).status_code == 403


async def test_require_role_admits_the_role_and_admins_only(h: Harness) -> None:
    @h.app.get("/test/coaches")
    async def coaches(user: User = Depends(require_role("coach"))) -> dict[str, str]:
        return {"email": user.email}

    headers = await h.bearer()
    assert (await h.client.get("/test/coaches")).status_code == 401
    refused = await h.client.get("/test/coaches", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    for role in ("coach", "admin"):
        async with h.runtime.session_factory() as session:
            ada = await repository.by_email(session, "ada@example.com")
            assert ada is not None
            ada.role = role
            await session.commit()
        assert (await h.client.get("/test/coaches", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://127.0.0.1:8001"},  # another port is another origin
    ],
    ids=["foreign-origin", "opaque-origin", "foreign-referer", "other-port"],
)
async def test_a_cookie_write_from_another_origin_is_403_even_with_the_token(
    h: Harness, headers: dict[str, str]
) -> None:
    await cookie_session(h)
    token = (await h.client.get("/api/auth/csrf")).json()["csrf_token"]
    response = await h.client.post("/api/auth/logout", headers={"X-CSRF-Token": token, **headers})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert (await h.client.get("/api/me")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"Origin": BASE_URL}, {"Referer": f"{BASE_URL}/account"}, {"Origin": "HTTP://127.0.0.1:8000"}],
    ids=["origin", "referer", "case-insensitive"],
)
async def test_a_same_origin_cookie_write_with_the_token_works(h: Harness, headers: dict[str, str]) -> None:
    await cookie_session(h)
    token = (await h.client.get("/api/auth/csrf")).json()["csrf_token"]
    response = await h.client.post("/api/auth/logout", headers={"X-CSRF-Token": token, **headers})
    assert response.status_code == 204


async def test_a_bearer_write_needs_no_origin(h: Harness) -> None:
    headers = {**(await h.bearer()), "Origin": "https://evil.example"}
    assert (await h.client.post("/api/auth/logout", headers=headers)).status_code == 204


async def test_a_form_post_from_another_origin_gets_the_403_page(h: Harness) -> None:
    page = await h.client.get("/login")
    fields = form(page.text, "/login").fields
    body = {**fields, "email": "ada@example.com", "password": "correct horse"}
    response = await h.client.post("/login", data=body, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403

"""The account API: register, login, logout, /api/me and their error cases."""

from __future__ import annotations

from datetime import timedelta

from tests.support.app_harness import Harness


def error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


async def test_register_creates_a_free_user_with_a_normalized_email(h: Harness) -> None:
    response = await h.client.post(
        "/api/auth/register", json={"email": "  Ada@Example.COM ", "password": "correct horse"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["role"] == "free"
    assert body["id"].startswith("usr_")


BAD_REGISTRATIONS = [
    ({"email": "not-an-email", "password": "correct horse"}, "email"),
    ({"email": "ada@example.com", "password": "short"}, "password"),
    ({"password": "correct horse"}, "email"),
    ({"email": "ada@example.com"}, "password"),
    ({"email": "ada@example.com", "password": "correct horse", "role": "admin"}, "role"),
]


async def test_register_rejects_bad_input_naming_the_field(h: Harness) -> None:
    for payload, field in BAD_REGISTRATIONS:
        response = await h.client.post("/api/auth/register", json=payload)
        assert response.status_code == 422, payload
        assert error(response)["message"].startswith(f"{field}:"), payload
    bad_json = await h.client.post(
        "/api/auth/register", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 422
    assert error(bad_json)["message"] == "request body is not valid JSON"


async def test_register_twice_is_409_whatever_the_case_of_the_email(h: Harness) -> None:
    await h.register("ada@example.com")
    response = await h.client.post(
        "/api/auth/register", json={"email": "ADA@example.com", "password": "another pass"}
    )
    assert response.status_code == 409
    assert error(response)["code"] == "email_taken"


async def test_login_returns_a_bearer_token_that_opens_me(h: Harness) -> None:
    await h.register()
    response = await h.client.post(
        "/api/auth/login", json={"email": "ADA@example.com", "password": "correct horse"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_at"].startswith("2026-12-01")  # seven days after the frozen clock
    me = await h.client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert set(me.json()) == {"id", "email", "role", "created_at"}
    assert me.json()["email"] == "ada@example.com"


async def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(h: Harness) -> None:
    await h.register()
    wrong = await h.client.post("/api/auth/login", json={"email": "ada@example.com", "password": "nope nope"})
    unknown = await h.client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "nope nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert error(wrong) == error(unknown)


async def test_login_with_an_empty_body_is_422(h: Harness) -> None:
    response = await h.client.post("/api/auth/login", json={})
    assert response.status_code == 422
    assert error(response)["message"].startswith("email:")


BAD_HEADERS = [
    {},
    {"Authorization": "Bearer forged.token"},
    {"Authorization": "Basic abc"},
    {"Authorization": "Bearer "},
]


async def test_me_without_a_valid_token_is_401(h: Harness) -> None:
    for headers in BAD_HEADERS:
        response = await h.client.get("/api/me", headers=headers)
        assert response.status_code == 401, headers
        assert error(response)["code"] == "unauthorized"


async def test_an_expired_token_is_401(h: Harness) -> None:
    headers = await h.bearer()
    h.clock.advance(timedelta(days=7, seconds=1))
    assert (await h.client.get("/api/me", headers=headers)).status_code == 401


async def test_logout_revokes_the_token_but_not_other_sessions(h: Harness) -> None:
    headers = await h.bearer()
    other = {"Authorization": f"Bearer {await h.token()}"}
    response = await h.client.post("/api/auth/logout", headers=headers)
    assert response.status_code == 204
    assert (await h.client.get("/api/me", headers=headers)).status_code == 401
    assert (await h.client.get("/api/me", headers=other)).status_code == 200


async def test_logout_without_a_token_is_401(h: Harness) -> None:
    assert (await h.client.post("/api/auth/logout")).status_code == 401

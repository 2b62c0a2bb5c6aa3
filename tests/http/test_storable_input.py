"""Text PostgreSQL cannot store (NUL, unpaired surrogates) is a 4xx on every route, before any query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from billhook.app import create_app
from billhook.config import Settings
from billhook.runtime import Runtime

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await runtime.aclose()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/register", '{"email": "a\\u0000@example.com", "password": "correct horse battery"}'),
        ("/api/auth/login", '{"email": "a\\u0000@example.com", "password": "correct horse battery"}'),
        ("/api/auth/password-reset", '{"email": "a\\u0000@example.com"}'),
        ("/api/auth/register", '{"email": "\\ud800@example.com", "password": "correct horse battery"}'),
        ("/api/auth/login", '{"email": "ada@example.com", "password": "x\\u0000", "\\u0000": 1}'),
    ],
    ids=["register-nul", "login-nul", "reset-nul", "register-lone-surrogate", "nul-in-a-key"],
)
async def test_unstorable_text_in_a_json_body_is_a_422(
    client: httpx.AsyncClient, path: str, body: str
) -> None:
    response = await client.post(path, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "NUL" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/api/payments/pay_%00x", "/api/bookings/bk_%00", "/api/payments/checkout/cs_%00/status"]
)
async def test_a_nul_in_a_path_id_is_a_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_nul_in_the_query_string_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/products?currency=%00usd")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_a_nul_in_a_form_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/login", data={"email": "a\x00@example.com", "password": PASSWORD})

    assert response.status_code == 422


async def test_storable_escapes_pass_through(client: httpx.AsyncClient) -> None:
    """A surrogate pair (an emoji) and an escaped backslash before u0000 are ordinary text."""
    body = '{"email": "ada@example.com", "password": "\\ud83d\\ude00 \\\\u0000 horse"}'
    response = await client.post(
        "/api/auth/register", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 201, response.text

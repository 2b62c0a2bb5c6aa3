"""/docs and /redoc use Billhook's own assets; the OpenAPI declares bearer and cookie sign-in; / leads on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from billhook.app import create_app
from billhook.runtime import Runtime
from tests.support.databases import make_settings


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}")
    app = create_app(settings, Runtime.build(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_their_scripts_from_billhook(client: httpx.AsyncClient, page: str) -> None:
    html = (await client.get(page)).text
    assert "/docs/static/" in html
    assert "cdn." not in html and "fonts.googleapis" not in html


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"])
async def test_the_assets_are_served(client: httpx.AsyncClient, asset: str) -> None:
    response = await client.get(f"/docs/static/{asset}")
    assert response.status_code == 200
    assert len(response.content) > 100_000


async def test_signed_in_operations_declare_bearer_or_cookie(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The access_token from POST /api/auth/login.",
    }
    cookie = schemes["sessionCookie"]
    assert (cookie["in"], cookie["name"]) == ("cookie", "billhook_session")
    assert schema["paths"]["/api/me"]["get"]["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert "security" not in schema["paths"]["/api/products"]["get"]
    assert "security" not in schema["paths"]["/api/auth/login"]["post"]


async def test_the_root_leads_to_the_pricing_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert (response.status_code, response.headers["location"]) == (307, "/pricing")

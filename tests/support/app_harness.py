"""A Billhook app with the accounts, catalog, entitlements and page routers, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from billhook.accounts.deps import get_login_throttle, get_passwords
from billhook.accounts.endpoints import router as accounts_router
from billhook.accounts.passwords import Passwords
from billhook.accounts.policy import ThrottlePolicy
from billhook.accounts.throttle import LoginThrottle
from billhook.cache import BillhookCache, build_cache
from billhook.catalog import apply_catalog, load_catalog
from billhook.catalog.endpoints import router as catalog_router
from billhook.entitlements.endpoints import router as entitlements_router
from billhook.http.errors import install_error_handlers
from billhook.kit.clock import FrozenClock
from billhook.runtime import Runtime
from billhook.web.auth_pages import router as auth_pages_router
from billhook.web.pages import router as pages_router
from tests.support.databases import make_settings

EXAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "billhook.toml"
TEST_THROTTLE = ThrottlePolicy(
    account_slow_after=2, address_slow_after=8, base_delay_seconds=1.0, max_delay_seconds=8.0
)


@dataclass
class Harness:
    app: FastAPI
    runtime: Runtime
    client: httpx.AsyncClient
    clock: FrozenClock
    cache: BillhookCache

    async def register(self, email: str = "ada@example.com", password: str = "correct horse") -> Any:
        response = await self.client.post("/api/auth/register", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return response.json()

    async def token(self, email: str = "ada@example.com", password: str = "correct horse") -> str:
        response = await self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def bearer(self, email: str = "ada@example.com", password: str = "correct horse") -> dict[str, str]:
        await self.register(email, password)
        return {"Authorization": f"Bearer {await self.token(email, password)}"}


@asynccontextmanager
async def harness(database_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, billhook_catalog=str(EXAMPLE_CATALOG), **overrides)
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    runtime = Runtime.build(settings, clock=clock)
    cache = build_cache(settings)
    runtime.cache = cache
    # Our own app with this area's routers only: independent of what create_app wires.
    app = FastAPI()
    app.state.runtime = runtime
    install_error_handlers(app)
    for router in (accounts_router, catalog_router, entitlements_router, auth_pages_router, pages_router):
        app.include_router(router)
    app.dependency_overrides[get_login_throttle] = lambda: LoginThrottle(cache, TEST_THROTTLE, clock)
    cheap = Passwords.for_tests()
    app.dependency_overrides[get_passwords] = lambda: cheap
    await runtime.start()
    async with runtime.session_factory() as session:
        await apply_catalog(session, load_catalog(EXAMPLE_CATALOG))
        await session.commit()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Harness(app, runtime, client, clock, cache)
    finally:
        if cache.is_redis:
            await cache.backend.delete_match("billhook:v1:*")
        await cache.aclose()
        await runtime.aclose()

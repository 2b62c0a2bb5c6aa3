"""/docs and /redoc load in a real Chromium with every non-loopback request blocked: Billhook serves
their assets itself, and Swagger UI offers the bearer token ("Authorize").

Not one request leaves the machine: ReDoc's bundle, which asks for Redocly's logo from its CDN,
is served with that image made local.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, expect

from billhook.app import create_app
from tests.support.browser import chromium, needs_chromium
from tests.support.databases import make_settings
from tests.support.server import ServerThread, free_port


@pytest.fixture
def root(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}",
        billhook_auto_migrate=True,
        billhook_base_url=f"http://127.0.0.1:{port}",
        billhook_sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
    )
    server = ServerThread(create_app(settings), port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.browser
@needs_chromium
async def test_docs_and_redoc_load_with_the_network_cut_off(root: str) -> None:
    blocked: list[tuple[str, str]] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:
            blocked.append((route.request.resource_type, route.request.url))
            await route.abort("internetdisconnected")

    async with chromium() as browser:
        context = await browser.new_context()
        await context.route("**/*", loopback_only)
        page = await context.new_page()
        page.set_default_timeout(15_000)

        await page.goto(f"{root}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Billhook")
        await expect(page.locator("button.authorize")).to_be_visible()
        await page.click("button.authorize")
        await expect(page.locator(".auth-container").first).to_contain_text("bearerAuth")

        await page.goto(f"{root}/redoc")
        await expect(page.locator("h1").first).to_contain_text("Billhook")
    assert blocked == []

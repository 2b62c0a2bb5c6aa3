"""/readyz is 503 while start-up work is unfinished (the catalog push into the sandbox), 200 after."""

from __future__ import annotations

from pathlib import Path

import httpx

from billhook.app import create_app
from billhook.bootstrap import SandboxCatalogSync
from billhook.providers.stripe import build_provider
from billhook.runtime import Runtime
from tests.support.databases import make_settings
from tests.support.server import free_port

CATALOG = Path(__file__).resolve().parents[2] / "billhook.toml"


async def test_readyz_waits_for_the_catalog_push_then_answers_200(database_url: str) -> None:
    # Nothing listens at the base URL, so the push keeps retrying until the test marks it done.
    settings = make_settings(
        database_url,
        billhook_catalog=str(CATALOG),
        billhook_base_url=f"http://127.0.0.1:{free_port()}",
        billhook_auto_migrate=True,
    )
    runtime = Runtime.build(settings)
    runtime.provider = build_provider(settings)
    push = SandboxCatalogSync(runtime, first_delay=0.01)
    runtime.services.append(push)
    app = create_app(settings, runtime)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            waiting = await client.get("/readyz")
            assert waiting.status_code == 503
            assert waiting.json()["error"]["message"] == (
                "starting: the catalog is being pushed to the sandbox"
            )
            push.done.set()
            ready = await client.get("/readyz")
            assert ready.status_code == 200
    finally:
        await runtime.aclose()

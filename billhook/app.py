"""``create_app(settings)``: the FastAPI application with its routers, middleware and runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from billhook import __version__
from billhook.config import Settings
from billhook.http import health, metrics
from billhook.http.errors import install_error_handlers
from billhook.http.request_id import RequestIdMiddleware
from billhook.runtime import Runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.aclose()

    app = FastAPI(
        title="Billhook",
        version=__version__,
        description="Self-hosted payments and subscriptions backend on Stripe.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app

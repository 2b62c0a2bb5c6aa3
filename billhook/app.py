"""``create_app(settings)``: the FastAPI application with its routers, middleware and runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from billhook import __version__
from billhook.accounts import endpoints as accounts_api
from billhook.accounts.deps import SESSION_COOKIE, authentication
from billhook.admin import pages as admin_pages
from billhook.analytics import endpoints as analytics_api
from billhook.analytics import metrics as analytics_metrics
from billhook.bookings import endpoints as bookings_api
from billhook.bootstrap import SANDBOX_MOUNT, build_runtime
from billhook.catalog import endpoints as catalog_api
from billhook.checkout import endpoints as checkout_api
from billhook.config import Settings
from billhook.entitlements import endpoints as entitlements_api
from billhook.http import health, metrics
from billhook.http.body_limits import BodyLimitsMiddleware
from billhook.http.docs import declare_security, install_docs
from billhook.http.errors import install_error_handlers
from billhook.http.openapi import document_errors
from billhook.http.request_id import RequestIdMiddleware
from billhook.http.storable_input import StorableInputMiddleware
from billhook.inbox import endpoints as webhook_api
from billhook.payments import endpoints as payments_api
from billhook.runtime import Runtime
from billhook.subscriptions import management_endpoints as subscription_api
from billhook.web import auth_pages, checkout_pages, mailbox, pages


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The whole service. ``runtime`` defaults to :func:`build_runtime` (provider, workers…)."""
    runtime = runtime or build_runtime(settings)

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
        docs_url=None,  # served from local assets by install_docs: /docs works offline
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.webhook_secrets = runtime.webhook_secrets
    app.state.metrics_refreshers = [analytics_metrics.refresh_on_scrape]  # revenue gauges on /metrics
    install_error_handlers(app)
    document_errors(app, authentication)
    declare_security(app, authentication, SESSION_COOKIE)
    app.add_middleware(StorableInputMiddleware, exempt_prefixes=[SANDBOX_MOUNT, webhook_api.PATH])
    app.add_middleware(
        BodyLimitsMiddleware,
        max_body_bytes=settings.billhook_max_request_body_bytes,
        body_timeout=settings.billhook_request_body_timeout,
        exempt_paths=[webhook_api.PATH],  # the receiver bounds its body with the same settings
    )
    app.add_middleware(RequestIdMiddleware)
    for router in (
        webhook_api.router,  # first: the busiest route, matched before any other is tried
        health.router,
        metrics.router,
        catalog_api.router,
        accounts_api.router,
        entitlements_api.router,
        checkout_api.router,
        subscription_api.router,
        payments_api.router,
        bookings_api.router,
        analytics_api.router,
        pages.router,
        checkout_pages.router,
        auth_pages.router,
        mailbox.router,
        admin_pages.router,
    ):
        app.include_router(router)
    install_docs(app)
    if runtime.sandbox is not None:
        app.mount(SANDBOX_MOUNT, runtime.sandbox.app)
    return app

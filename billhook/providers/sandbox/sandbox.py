"""``Sandbox``: the offline Stripe-compatible API, its hosted pages and its webhook deliverer.

The parent app mounts ``sandbox.app`` (e.g. under ``/sandbox``) and calls ``start()``/``aclose()``
itself, because Starlette does not run a mounted app's lifespan; run alone, ``app``'s own
lifespan does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import scheduler, webhooks
from .api import ApiRouter, Dispatcher
from .config import ChaosSettings, SandboxConfig
from .errors import StripeError
from .pages import Pages
from .pages_portal import PortalPages
from .params import Params
from .routes_billing import router as billing_routes
from .routes_core import router as core_routes
from .routes_events import router as event_routes
from .store import Store

logger = logging.getLogger(__name__)


class Sandbox:
    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.store = Store(self.config)
        self.store.planner = webhooks.plan_deliveries
        self.deliverer = webhooks.Deliverer(self.store, webhook_transport)
        self.store.after_commit = self.deliverer.wakeup.set
        self._started = False
        self._settling: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.app = self._build_app()

    def _build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.aclose()

        app = FastAPI(
            title="Billhook Stripe sandbox",
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )
        router = ApiRouter()
        for routes in (core_routes, billing_routes, event_routes):
            router.include(routes)
        dispatcher = Dispatcher(self.store, router)
        app.add_route("/v1/{path:path}", dispatcher.handle, methods=["GET", "POST", "DELETE"])
        pages = Pages(self.store)
        portal = PortalPages(pages)
        page_routes = [
            ("/checkout/{session_id}", pages.checkout_page, "GET"),
            ("/checkout/{session_id}/pay", pages.checkout_pay, "POST"),
            ("/checkout/{session_id}/authenticate", pages.checkout_authenticate, "POST"),
            ("/authenticate/{intent_id}", pages.intent_page, "GET"),
            ("/authenticate/{intent_id}", pages.intent_authenticate, "POST"),
            ("/invoice/{invoice_id}", pages.invoice_page, "GET"),
            ("/receipts/{charge_id}", pages.receipt_page, "GET"),
            ("/portal/{portal_id}", portal.page, "GET"),
            ("/portal/{portal_id}/card", portal.update_card, "POST"),
            ("/portal/{portal_id}/subscriptions/{subscription_id}/preview", portal.preview, "POST"),
            ("/portal/{portal_id}/subscriptions/{subscription_id}/switch", portal.switch, "POST"),
            ("/portal/{portal_id}/subscriptions/{subscription_id}/cancel", portal.cancel, "POST"),
            ("/portal/{portal_id}/subscriptions/{subscription_id}/resume", portal.resume, "POST"),
        ]
        for path, endpoint, method in page_routes:
            app.add_route(path, endpoint, methods=[method])
        app.add_exception_handler(StripeError, pages.error_page)  # the API answers its own errors
        app.add_route("/health", _health, methods=["GET"])
        return app

    async def start(self) -> None:
        """Create the tables, load the clock and start delivering webhooks. Idempotent."""
        if self._started:
            return
        await self.store.create_tables()
        self.deliverer.start()
        if self.config.settle_seconds > 0:
            self._stopping.clear()
            self._settling = asyncio.create_task(self._settle_forever(), name="sandbox-settle")
        self._started = True

    async def aclose(self) -> None:
        # Stopped between rounds, never cancelled inside one: a session cancelled mid-transaction
        # may skip its rollback and keep SQLite's write lock (as in RetentionService.aclose).
        self._stopping.set()
        settling, self._settling = self._settling, None
        if settling is not None:
            await settling
        await self.deliverer.stop()
        await self.store.dispose()
        self._started = False

    async def _settle_forever(self) -> None:
        """Real time passing: sessions expire and renewals run without ``sandbox advance``."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.config.settle_seconds)
            if self._stopping.is_set():
                return
            try:
                await scheduler.settle(self.store)
            except Exception:  # the loop must outlive one bad object; the error is logged
                logger.exception("sandbox settle failed")

    async def advance_clock(self, seconds: int) -> int:
        """Move sandbox time forward, running everything that falls due; returns the new sandbox time."""
        return await scheduler.advance(self.store, seconds)

    def now(self) -> int:
        return self.store.now()

    async def reset(self) -> None:
        """Forget every object, event, delivery and the clock offset."""
        await self.store.drop_all()

    async def add_webhook_endpoint(self, url: str, events: list[str] | None = None) -> tuple[str, str]:
        async with self.store.transaction() as tx:
            endpoint = await webhooks.create_endpoint(
                tx, Params({"url": url, "enabled_events": events or ["*"]})
            )
        return endpoint["id"], endpoint["_secret"]

    async def ensure_webhook_endpoint(self, url: str, secret: str | None = None) -> tuple[str, str]:
        """The enabled endpoint for ``url`` (all events), created on first use: (id, secret).

        The embedded default calls this at every start, so restarts reuse one endpoint and one
        secret instead of piling up endpoints that each receive every event. With ``secret`` the
        endpoint signs with that secret (Billhook derives it, see :mod:`.link`), also when an
        older start created it with a random one.
        """
        async with self.store.transaction() as tx:
            for endpoint in await tx.find("webhook_endpoint"):
                if endpoint["url"] == url and endpoint.get("status") == "enabled":
                    if secret and endpoint["_secret"] != secret:
                        endpoint["_secret"] = secret
                        await tx.put(endpoint)
                    return endpoint["id"], endpoint["_secret"]
            created = await webhooks.create_endpoint(tx, Params({"url": url, "enabled_events": ["*"]}))
            if secret:
                created["_secret"] = secret
                created = await tx.put(created)
        return created["id"], created["_secret"]

    async def set_chaos(
        self,
        *,
        out_of_order: bool | None = None,
        duplicate: bool | None = None,
        delay: float | None = None,
        drop: float | None = None,
        off: bool = False,
    ) -> ChaosSettings:
        async with self.store.transaction() as tx:
            chaos = webhooks.chaos_from({}) if off else await webhooks.current_chaos(tx)
            if out_of_order is not None:
                chaos.out_of_order = out_of_order
            if duplicate is not None:
                chaos.duplicate = duplicate
            if delay is not None:
                chaos.delay = max(0.0, delay)
            if drop is not None:
                chaos.drop = min(1.0, max(0.0, drop))
            await tx.set_state("chaos", chaos.as_dict())
        return chaos

    async def deliveries(self, event_id: str | None = None) -> list[dict[str, object]]:
        async with self.store.transaction() as tx:
            return await webhooks.delivery_log(tx, event_id)


def standalone_app(sandbox: Sandbox, prefix: str = "/sandbox") -> FastAPI:
    """The sandbox alone, mounted under ``prefix`` like the embedded default, with a lifespan that
    starts and stops it (``billhook sandbox serve``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.aclose()

    app = FastAPI(
        title="Billhook Stripe sandbox", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount(prefix, sandbox.app)
    return app


async def _health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})

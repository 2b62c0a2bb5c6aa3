"""The composition root: the one place that assembles a :class:`Runtime` from :class:`Settings`.

It picks the payment provider (Stripe, or the embedded offline sandbox when no key is set),
the mailer and the cache, registers every job type, and adds the in-process workers. The HTTP
app, the CLI and standalone workers all build their runtime here, so they agree on the wiring.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from billhook import entitlements
from billhook.accounts import provisioning
from billhook.cache import build_cache
from billhook.catalog import apply_catalog, catalog_path, load_catalog
from billhook.catalog.push import sync_products
from billhook.config import Environment, Settings
from billhook.customers import default_card
from billhook.fulfilment.jobs import register_jobs as register_fulfilment_jobs
from billhook.inbox.worker import InboxWorker, WorkerOptions
from billhook.kit.clock import Clock
from billhook.kit.tasks import cancel_and_wait
from billhook.kit.webhook_secrets import WebhookSecrets
from billhook.logging import get_logger
from billhook.notifications import attach_notifications
from billhook.ops.retention import Retention, RetentionService
from billhook.orders import paid_events
from billhook.outbox.worker import OutboxWorker
from billhook.payments import stats_jobs
from billhook.providers.sandbox import Sandbox, SandboxConfig
from billhook.providers.sandbox.link import embedded_webhook_secret
from billhook.providers.stripe import build_provider
from billhook.providers.stripe.actions import actions_for
from billhook.runtime import Runtime
from billhook.subscriptions import cache_jobs

log = get_logger(__name__)
SANDBOX_MOUNT = "/sandbox"
WEBHOOK_PATH = "/api/payments/webhook"


class SandboxWebhookLink:
    """Registers Billhook's own receiver with the embedded sandbox and trusts its secret.

    Runs at start-up, after the sandbox's tables exist; restarts reuse the same endpoint. The
    endpoint signs with the secret derived from ``BILLHOOK_SECRET_KEY``
    (:func:`embedded_webhook_secret`), so ``billhook setup``, ``check`` and ``webhooks test``
    know it without a dashboard.
    """

    def __init__(self, sandbox: Sandbox, url: str, secrets: WebhookSecrets, signing_secret: str) -> None:
        self.sandbox, self.url, self.secrets = sandbox, url, secrets
        self.signing_secret = signing_secret

    async def start(self) -> None:
        _endpoint_id, secret = await self.sandbox.ensure_webhook_endpoint(self.url, self.signing_secret)
        self.secrets.add(secret)

    async def aclose(self) -> None:
        return None


class CatalogLoader:
    """Applies the catalog file (``BILLHOOK_CATALOG``) to the products and prices tables at start.

    A missing file means the packaged example in development, an error in production (see
    :func:`catalog_path`); a broken one stops start-up with the catalog's own message naming the
    product and field.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def start(self) -> None:
        settings = self.runtime.settings
        path = catalog_path(settings)
        if path is None:
            log.warning("catalog_missing", path=str(settings.billhook_catalog))
            return
        catalog = load_catalog(path)
        async with self.runtime.session_factory() as session:
            await apply_catalog(session, catalog, price_overrides=settings.stripe_price_overrides)
            await session.commit()

    async def aclose(self) -> None:
        return None


class SandboxCatalogSync:
    """On the embedded default, pushes the catalog into the sandbox once the server is up.

    The sandbox is reached over HTTP through the SDK, and the server only accepts connections
    after start-up, so this runs as a background task that retries until it succeeds (or the
    process stops). With real Stripe, ``billhook products sync`` does this explicitly.
    """

    def __init__(self, runtime: Runtime, *, first_delay: float = 0.2, max_delay: float = 10.0) -> None:
        self.runtime = runtime
        self.first_delay, self.max_delay = first_delay, max_delay
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()

    async def start(self) -> None:
        if catalog_path(self.runtime.settings) is not None:
            self._task = asyncio.create_task(self._run(), name="sandbox-catalog-sync")

    def pending(self) -> str | None:
        """Not ready until the catalog is in the sandbox: a checkout before that finds no price."""
        if self._task is not None and not self.done.is_set():
            return "starting: the catalog is being pushed to the sandbox"
        return None

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        delay = self.first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                await self.sync_once()
            except Exception as exc:  # the server may not be listening yet; say so and retry
                log.info("sandbox_catalog_sync_retry", error=type(exc).__name__, in_seconds=delay)
                delay = min(delay * 2, self.max_delay)
                continue
            self.done.set()
            return

    async def sync_once(self) -> None:
        settings = self.runtime.settings
        assert self.runtime.actions is not None
        async with self.runtime.session_factory() as session:
            report = await sync_products(
                session,
                self.runtime.actions,
                load_catalog(catalog_path(settings) or settings.billhook_catalog),
                price_overrides=settings.stripe_price_overrides,
            )
            await session.commit()
        log.info("sandbox_catalog_synced", changes=len(report.plan.describe()))


class ProviderCloser:
    """Closes the provider's pooled HTTP connections when the runtime stops."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        if self.runtime.provider is not None:
            await self.runtime.provider.aclose()


def retention(settings: Settings) -> Retention:
    return Retention(
        jobs=timedelta(days=settings.billhook_outbox_retention_days),
        events=timedelta(days=settings.billhook_inbox_retention_days),
    )


def inbox_options(settings: Settings) -> WorkerOptions:
    interval = settings.billhook_inbox_reconcile_interval
    return WorkerOptions(
        concurrency=settings.billhook_inbox_concurrency,
        reconcile_interval=interval or None,
        alert_email=settings.billhook_alert_email,
    )


def embeds_sandbox(settings: Settings) -> bool:
    """No Stripe key and no external API base: the sandbox runs inside this process.

    With a key configured, in any environment, the sandbox's routes (its hosted checkout, clock,
    chaos and reset helpers) are never mounted; production refuses to start without a key.
    """
    return (
        settings.uses_sandbox
        and not settings.stripe_api_base
        and settings.billhook_env is not Environment.PRODUCTION
    )


def warn_about_test_keys(settings: Settings) -> None:
    """Production on a test key is allowed only by ``BILLHOOK_ALLOW_TEST_KEYS``; say so at every start."""
    key = settings.stripe_secret_key or ""
    if settings.billhook_env is Environment.PRODUCTION and key.startswith(("sk_test_", "rk_test_")):
        log.error(
            "test_keys_in_production",
            detail="BILLHOOK_ALLOW_TEST_KEYS=true: production runs on a Stripe TEST key; no real money moves",
        )


def attach_sandbox(runtime: Runtime, secrets: WebhookSecrets) -> Sandbox:
    settings = runtime.settings
    sandbox = Sandbox(
        SandboxConfig(
            database_url=settings.billhook_sandbox_database_url,
            public_url=f"{settings.billhook_base_url}{SANDBOX_MOUNT}",
        )
    )
    runtime.sandbox = sandbox
    runtime.services.append(sandbox)
    url = f"{settings.billhook_base_url}{WEBHOOK_PATH}"
    signing_secret = embedded_webhook_secret(settings.secret_key)
    runtime.services.append(SandboxWebhookLink(sandbox, url, secrets, signing_secret))
    return sandbox


def register_job_types(runtime: Runtime) -> None:
    register_fulfilment_jobs(runtime.jobs)
    entitlements.register_jobs(runtime.jobs)
    paid_events.register_jobs(runtime.jobs)
    provisioning.register_jobs(runtime.jobs)
    cache_jobs.register_jobs(runtime.jobs)
    stats_jobs.register_jobs(runtime.jobs)
    default_card.register_jobs(runtime.jobs)


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    workers: bool | None = None,
    embed_sandbox: bool = True,
) -> Runtime:
    """Everything a Billhook process needs. ``workers`` defaults to ``BILLHOOK_EMBEDDED_WORKER``.

    Standalone workers pass ``embed_sandbox=False``: they reach the sandbox served by
    ``billhook serve`` over HTTP instead of running a second one on the same state.
    """
    warn_about_test_keys(settings)
    runtime = Runtime.build(settings, clock)
    runtime.cache = build_cache(settings)
    runtime.webhook_secrets = secrets = WebhookSecrets(settings.stripe_webhook_secret)
    runtime.services.append(CatalogLoader(runtime))
    if embed_sandbox and embeds_sandbox(settings):
        attach_sandbox(runtime, secrets)
        runtime.services.append(SandboxCatalogSync(runtime))
    runtime.provider = build_provider(settings)
    runtime.actions = actions_for(runtime.provider)
    runtime.services.append(ProviderCloser(runtime))
    attach_notifications(runtime)
    register_job_types(runtime)
    if settings.billhook_embedded_worker if workers is None else workers:
        runtime.services.append(OutboxWorker(runtime))
        runtime.services.append(InboxWorker(runtime, inbox_options(settings)))
        runtime.services.append(RetentionService(runtime, retention(settings)))
    return runtime

"""``billhook setup``, ``billhook check``, ``billhook logs`` and ``billhook webhooks test``.

The lead registers :func:`setup`, :func:`check` and :func:`logs` as top-level commands and
:data:`webhooks_app` as the ``webhooks`` group. Every command exits 1 with a one-line message
when something is wrong; ``check`` prints one ✓/✗ line per check with the fix.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.catalog import CatalogError, load_configured_catalog
from billhook.catalog.push import sync_products
from billhook.catalog.schemas import Catalog
from billhook.cli.events import parse_since
from billhook.config import Settings, SettingsError, ensure_secret_key, load_settings
from billhook.db import create_engine, create_session_factory, migrate
from billhook.errors import BillhookError, InvalidInput
from billhook.models import AuditEntry
from billhook.ops import logs as audit_log
from billhook.ops.checks import Check, run_checks, webhook_url
from billhook.ops.embedded import embeds_sandbox, explain, is_network_failure
from billhook.ops.setup import register_endpoint, write_env
from billhook.ops.webhook_test import WebhookTestResult, send_test_event
from billhook.providers.actions import ProviderActions
from billhook.providers.stripe import build_provider
from billhook.providers.stripe.actions import actions_for

T = TypeVar("T")
webhooks_app = typer.Typer(help="Check Billhook's webhook endpoint.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _settings(env_file: Path | None = None) -> Settings:
    try:
        settings = load_settings(env_file=env_file) if env_file else load_settings()
        if embeds_sandbox(settings):
            # The same key as 'billhook serve' in this directory: the embedded endpoint's secret
            # is derived from it.
            ensure_secret_key(settings)
        return settings
    except SettingsError as exc:
        fail(str(exc))
        raise


def _catalog(settings: Settings) -> Catalog:
    try:
        return load_configured_catalog(settings)
    except CatalogError as exc:
        fail(str(exc))
        raise


def _run(coroutine: Callable[[], Coroutine[Any, Any, T]], settings: Settings | None = None) -> T:
    try:
        return asyncio.run(coroutine())
    except BillhookError as exc:
        fail(explain(settings, exc) if settings is not None else exc.message)
        raise


def check(as_json: JsonOption = False) -> None:
    """Check keys, webhook secret, catalog prices at the provider and the webhook endpoint."""
    settings = _settings()
    catalog = _catalog(settings)

    async def main() -> list[Check]:
        provider = build_provider(settings)
        try:
            return await run_checks(settings, actions_for(provider), catalog)
        finally:
            await _close(provider)

    checks = _run(main)
    if as_json:
        typer.echo(json.dumps([asdict(c) for c in checks]))
    else:
        for item in checks:
            typer.echo(item.line())
        failed = sum(not c.ok for c in checks)
        typer.echo(f"{len(checks) - failed} passed, {failed} failed")
    if any(not c.ok for c in checks):
        raise typer.Exit(1)


async def _close(provider: object) -> None:
    closing = getattr(provider, "aclose", None)
    if closing is not None:
        await closing()


def setup(
    *,
    env_file: Annotated[Path, typer.Option(help="The dotenv file to write.")] = Path(".env"),
    database_url: Annotated[str | None, typer.Option(help="DATABASE_URL.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="BILLHOOK_BASE_URL: where Stripe reaches Billhook.")
    ] = None,
    stripe_secret_key: Annotated[
        str | None, typer.Option(help="STRIPE_SECRET_KEY (sk_test_… / sk_live_…).")
    ] = None,
    stripe_publishable_key: Annotated[str | None, typer.Option(help="STRIPE_PUBLISHABLE_KEY.")] = None,
    stripe_api_base: Annotated[str | None, typer.Option(help="STRIPE_API_BASE (a served sandbox).")] = None,
    catalog: Annotated[Path | None, typer.Option(help="BILLHOOK_CATALOG (billhook.toml).")] = None,
    skip_sync: Annotated[bool, typer.Option("--skip-sync", help="Do not sync products.")] = False,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--interactive/--no-interactive",
            help="Ask for each value (the default in a terminal when no value is given as a flag).",
        ),
    ] = None,
) -> None:
    """First run: write .env, migrate, sync products, register the webhook endpoint and store its secret.

    In a terminal with no flags it asks for each value; give flags (or --no-interactive) to script it.
    """
    given = {
        "DATABASE_URL": database_url,
        "BILLHOOK_BASE_URL": base_url,
        "STRIPE_SECRET_KEY": stripe_secret_key,
        "STRIPE_PUBLISHABLE_KEY": stripe_publishable_key,
        "STRIPE_API_BASE": stripe_api_base,
        "BILLHOOK_CATALOG": str(catalog) if catalog else None,
    }
    if interactive is None:
        interactive = sys.stdin.isatty() and not any(given.values())
    if interactive:
        given = _ask(given)
    values = {name: value for name, value in given.items() if value}
    if values:
        typer.echo(f"✓ wrote {', '.join(write_env(env_file, values))} to {env_file}")
    settings = _settings(env_file)
    parsed = _catalog(settings)
    secret = _run(lambda: _setup(settings, parsed, skip_sync=skip_sync), settings)
    if secret is not None:
        write_env(env_file, {"STRIPE_WEBHOOK_SECRET": secret})
        typer.echo(f"✓ stored the endpoint's signing secret as STRIPE_WEBHOOK_SECRET in {env_file}")
    typer.echo("done: run 'billhook check' to verify")


_QUESTIONS = (
    ("DATABASE_URL", "Database URL", "sqlite:///./billhook.db", False),
    (
        "BILLHOOK_BASE_URL",
        "Public URL of this service (where Stripe sends webhooks)",
        "http://127.0.0.1:8000",
        False,
    ),
    ("STRIPE_SECRET_KEY", "Stripe secret key (empty: the offline sandbox)", "", True),
    ("STRIPE_PUBLISHABLE_KEY", "Stripe publishable key (empty: none)", "", False),
)


def _ask(given: dict[str, str | None]) -> dict[str, str | None]:
    """The wizard: one question per setting not given as a flag; Enter keeps the default."""
    answers = dict(given)
    for name, question, default, secret in _QUESTIONS:
        if answers.get(name):
            continue
        answer = typer.prompt(question, default=default, hide_input=secret, show_default=not secret)
        answers[name] = str(answer).strip() or None
    return answers


async def _setup(settings: Settings, catalog: Catalog, *, skip_sync: bool) -> str | None:
    engine = create_engine(settings.database_url)
    provider = build_provider(settings)
    try:
        await migrate.upgrade(engine)
        typer.echo(f"✓ database migrated to {await migrate.current_revision(engine)}")
        actions = actions_for(provider)
        factory = create_session_factory(engine)
        if embeds_sandbox(settings):
            await _setup_embedded(settings, catalog, actions, factory, skip_sync=skip_sync)
            return None
        if not skip_sync:
            await _sync(settings, catalog, actions, factory)
        endpoint = await register_endpoint(settings, actions)
        verb = "registered" if endpoint.created else "already registered"
        typer.echo(f"✓ webhook endpoint {endpoint.url} {verb} ({endpoint.endpoint_id})")
        return endpoint.secret
    finally:
        await _close(provider)
        await engine.dispose()


async def _sync(
    settings: Settings, catalog: Catalog, actions: ProviderActions, factory: async_sessionmaker[AsyncSession]
) -> None:
    async with factory() as session:
        report = await sync_products(
            session, actions, catalog, price_overrides=settings.stripe_price_overrides
        )
        await session.commit()
    changes = report.lines()
    typer.echo(f"✓ products synced ({len(changes)} change{'s' if len(changes) != 1 else ''})")


async def _setup_embedded(
    settings: Settings,
    catalog: Catalog,
    actions: ProviderActions,
    factory: async_sessionmaker[AsyncSession],
    *,
    skip_sync: bool,
) -> None:
    """The embedded default: 'billhook serve' runs the sandbox, pushes the catalog into it and
    registers the endpoint with the derived secret at every start. With serve running, sync now
    and confirm the endpoint; without it there is nothing to do (and nothing to copy)."""
    url = webhook_url(settings)
    try:
        if not skip_sync:
            await _sync(settings, catalog, actions, factory)
        endpoints = await actions.list_webhook_endpoints()
    except BillhookError as exc:
        if not is_network_failure(exc):
            raise
        typer.echo("✓ products: 'billhook serve' pushes the catalog into its sandbox when it starts")
        typer.echo(f"✓ webhook endpoint {url}: 'billhook serve' registers it with its sandbox when it starts")
    else:
        found = next((e for e in endpoints if e.url == url), None)
        registered = f"registered ({found.id})" if found else "is registered by 'billhook serve' at start"
        typer.echo(f"✓ webhook endpoint {url} {registered}")
    typer.echo("✓ webhook secret: derived from BILLHOOK_SECRET_KEY (nothing to copy)")


def _since(value: str) -> datetime:
    try:
        moment = parse_since(value)
    except InvalidInput as exc:
        fail(exc.message)
        raise
    return datetime.now(UTC) - moment if isinstance(moment, timedelta) else moment


def logs(
    *,
    since: Annotated[str, typer.Option(help="How far back: 24h, 30m, 7d or an ISO time.")] = "24h",
    type_glob: Annotated[
        str | None, typer.Option("--type", help="Event type or action glob, e.g. 'invoice.*'.")
    ] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's entries (email).")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most this many lines before following.")
    ] = 500,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new entries (Ctrl-C stops).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The billing event log, newest last, one line per entry with what it changed."""
    start = _since(since)
    settings = _settings()

    def show(entry: AuditEntry) -> None:
        typer.echo(json.dumps(audit_log.entry_json(entry)) if as_json else audit_log.entry_line(entry))

    async def main() -> None:
        engine = create_engine(settings.database_url)
        factory = create_session_factory(engine)
        try:
            async with factory() as session:
                spec = await audit_log.filter_for(
                    session, since=start, type_glob=type_glob, email=customer, limit=limit
                )
                entries = await audit_log.recent(session, spec)
            for entry in entries:
                show(entry)
            if follow:
                await _follow(factory, spec, entries[-1] if entries else None, show)
        finally:
            await engine.dispose()

    _run(main)


async def _follow(
    factory: async_sessionmaker[AsyncSession],
    spec: audit_log.LogFilter,
    last: AuditEntry | None,
    show: Callable[[AuditEntry], None],
) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async for entry in audit_log.follow(factory, spec, last, stop=stopping.is_set):
        show(entry)


@webhooks_app.command("test")
def webhooks_test(
    wait: Annotated[float, typer.Option(min=1, max=600, help="Seconds to wait for the inbox.")] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Send a signed test event to the configured endpoint and wait until the inbox processed it."""
    settings = _settings()

    async def main() -> WebhookTestResult:
        engine = create_engine(settings.database_url)
        try:
            return await send_test_event(settings, create_session_factory(engine), wait_seconds=wait)
        finally:
            await engine.dispose()

    result = _run(main)
    if as_json:
        typer.echo(json.dumps(asdict(result)))
        return
    typer.echo(f"✓ {result.url} accepted {result.event_id} in {result.accepted_seconds * 1000:.0f} ms")
    typer.echo(f"✓ the inbox processed it: round trip {result.processed_seconds * 1000:.0f} ms")

"""``billhook check``: is this installation wired to its payment provider correctly?

One :class:`Check` per fact, each with the fix when it fails: keys present and of the mode the
environment expects (live in production, test elsewhere), a webhook secret, every catalog price
at the provider under its lookup key with the catalog's amount, currency and interval, and
Billhook's webhook endpoint registered at the provider and answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from billhook.catalog.schemas import Catalog, CatalogProduct, lookup_key
from billhook.config import Settings
from billhook.errors import BillhookError
from billhook.kit.formatting import format_money
from billhook.ops.embedded import describe, embeds_sandbox, is_network_failure, unreachable_fix
from billhook.providers.actions import ProviderActions, ProviderPrice

WEBHOOK_PATH = "/api/payments/webhook"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        fix = f" — fix: {self.fix}" if not self.ok and self.fix else ""
        return f"{mark} {self.name}: {self.detail}{fix}"


def webhook_url(settings: Settings) -> str:
    return f"{settings.billhook_base_url}{WEBHOOK_PATH}"


def check_keys(settings: Settings) -> Check:
    expected = "live" if settings.billhook_env == "production" else "test"
    secret = settings.stripe_secret_key
    if not secret:
        if expected == "live":
            return Check(
                "keys", False, "no STRIPE_SECRET_KEY in production", "set STRIPE_SECRET_KEY=sk_live_…"
            )
        return Check("keys", True, "no Stripe key: the offline sandbox is the provider")
    mode = (
        "live"
        if secret.startswith(("sk_live_", "rk_live_"))
        else "test"
        if secret.startswith(("sk_test_", "rk_test_"))
        else None
    )
    if mode is None:
        return Check(
            "keys", False, "STRIPE_SECRET_KEY is not a secret key", "use the sk_… key from the dashboard"
        )
    if mode != expected:
        return Check(
            "keys",
            False,
            f"a {mode} key in a {settings.billhook_env} environment",
            f"use the sk_{expected}_… key",
        )
    public = settings.stripe_publishable_key
    if public and not public.startswith(f"pk_{mode}_"):
        return Check(
            "keys",
            False,
            f"STRIPE_PUBLISHABLE_KEY is not a pk_{mode}_ key",
            f"use the pk_{mode}_… key of the same account",
        )
    return Check("keys", True, f"{mode} mode key{'s' if public else ''} present")


def check_webhook_secret(settings: Settings) -> Check:
    secrets = settings.stripe_webhook_secret
    if not secrets and embeds_sandbox(settings):
        return Check(
            "webhook secret",
            True,
            "the embedded sandbox signs with a secret derived from BILLHOOK_SECRET_KEY (nothing to copy)",
        )
    if not secrets:
        return Check(
            "webhook secret",
            False,
            "STRIPE_WEBHOOK_SECRET is not set",
            "run 'billhook setup' (it stores the endpoint's secret)",
        )
    if not all(s.startswith("whsec_") for s in secrets):
        return Check(
            "webhook secret",
            False,
            "a STRIPE_WEBHOOK_SECRET value is not a whsec_… secret",
            "copy the endpoint's signing secret",
        )
    return Check(
        "webhook secret", True, f"{len(secrets)} signing secret{'s' if len(secrets) > 1 else ''} set"
    )


def _price_problem(entry: CatalogProduct, currency: str, found: ProviderPrice | None) -> str | None:
    if found is None:
        return "missing"
    if not found.active:
        return "inactive"
    wanted = entry.prices[currency]
    if found.currency != currency or found.unit_amount != wanted:
        return f"{found.unit_amount} {found.currency} instead of {wanted} {currency}"
    if (found.interval or None) != (entry.interval or None) or (
        entry.interval and found.interval_count != entry.interval_count
    ):
        theirs = f"{found.interval_count} {found.interval}"
        return f"billed every {theirs} instead of {entry.interval_count} {entry.interval}"
    return None


def check_prices(catalog: Catalog, prices: Sequence[ProviderPrice], overrides: dict[str, str]) -> list[Check]:
    by_key = {p.lookup_key: p for p in prices if p.lookup_key}
    by_id = {p.id: p for p in prices}
    checks = []
    for entry in catalog.products:
        if not entry.active:
            continue
        for currency in entry.currencies:
            key = lookup_key(entry.id, currency)
            pinned = overrides.get(entry.id) if currency == entry.primary_currency else None
            found = by_id.get(pinned) if pinned else by_key.get(key)
            problem = _price_problem(entry, currency, found)
            name = f"price {entry.id} {currency}"
            if problem is None:
                assert found is not None
                checks.append(Check(name, True, f"{found.id} ({format_money(found.unit_amount, currency)})"))
            else:
                where = f"pinned price {pinned}" if pinned else f"lookup key {key}"
                checks.append(Check(name, False, f"{where}: {problem}", "run 'billhook products sync'"))
    return checks


async def check_endpoint(
    settings: Settings, actions: ProviderActions, *, wait_seconds: float = 5.0
) -> list[Check]:
    url = webhook_url(settings)
    try:
        endpoints = await actions.list_webhook_endpoints()
    except BillhookError as exc:
        return [
            Check(
                "webhook endpoint",
                False,
                f"cannot list endpoints: {describe(settings, exc)}",
                _fix(settings, exc),
            )
        ]
    registered = any(e.url == url for e in endpoints)
    checks = [
        Check("webhook endpoint", True, f"{url} is registered")
        if registered
        else Check(
            "webhook endpoint", False, f"{url} is not registered at the provider", "run 'billhook setup'"
        )
    ]
    checks.append(await _reachable(url, wait_seconds))
    return checks


async def _reachable(url: str, wait_seconds: float) -> Check:
    """An unsigned POST must be refused by Billhook's receiver (400): then it is there and listening."""
    try:
        async with httpx.AsyncClient(timeout=wait_seconds) as client:
            response = await client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        return Check(
            "webhook reachable",
            False,
            f"{url}: {type(exc).__name__}",
            "start 'billhook serve' and check BILLHOOK_BASE_URL",
        )
    if response.status_code in (400, 401):
        return Check(
            "webhook reachable",
            True,
            f"{url} answers (refused an unsigned event with {response.status_code})",
        )
    return Check(
        "webhook reachable",
        False,
        f"{url} answered {response.status_code}, not Billhook's receiver",
        "point BILLHOOK_BASE_URL at this Billhook",
    )


def _fix(settings: Settings, exc: BillhookError) -> str:
    if is_network_failure(exc):
        return unreachable_fix(settings)
    return "check STRIPE_SECRET_KEY (and STRIPE_API_BASE when set)"


async def run_checks(settings: Settings, actions: ProviderActions, catalog: Catalog) -> list[Check]:
    checks = [check_keys(settings), check_webhook_secret(settings)]
    try:
        prices = await actions.list_prices()
    except BillhookError as exc:
        checks.append(
            Check("prices", False, f"cannot list prices: {describe(settings, exc)}", _fix(settings, exc))
        )
    else:
        checks += check_prices(catalog, prices, settings.stripe_price_overrides)
    return checks + await check_endpoint(settings, actions)

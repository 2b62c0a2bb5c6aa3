"""What the operations commands need to know about the provider they talk to.

On the embedded default (no Stripe key, no ``STRIPE_API_BASE``) the provider is the sandbox that
``billhook serve`` mounts at ``<BILLHOOK_BASE_URL>/sandbox``: its webhook endpoint is registered
by ``serve`` itself and signs with a secret derived from ``BILLHOOK_SECRET_KEY``
(:mod:`billhook.providers.sandbox.link`). Network failures are explained in Billhook's words,
with the command or setting that fixes them, instead of the SDK's "contact Stripe support".
"""

from __future__ import annotations

from billhook.config import Settings
from billhook.errors import BillhookError
from billhook.providers.sandbox.link import embedded_webhook_secret

SANDBOX_MOUNT = "/sandbox"
# What the SDK says when it cannot connect (stripe-python's APIConnectionError).
_NETWORK_MARKERS = ("communicating with stripe", "network error", "connecterror", "connection refused")


def embeds_sandbox(settings: Settings) -> bool:
    """No Stripe key and no other API base: ``billhook serve`` runs the sandbox inside itself."""
    return settings.uses_sandbox and not settings.stripe_api_base


def signing_secrets(settings: Settings) -> list[str]:
    """The secrets Billhook's endpoint signs with: the configured ones, else the embedded one."""
    if settings.stripe_webhook_secret:
        return list(settings.stripe_webhook_secret)
    if embeds_sandbox(settings) and settings.billhook_secret_key:
        return [embedded_webhook_secret(settings.billhook_secret_key)]
    return []


def api_base(settings: Settings) -> str:
    if settings.stripe_api_base:
        return settings.stripe_api_base
    if settings.uses_sandbox:
        return f"{settings.billhook_base_url}{SANDBOX_MOUNT}"
    return "https://api.stripe.com"


def is_network_failure(exc: BillhookError) -> bool:
    text = exc.message.lower()
    return any(marker in text for marker in _NETWORK_MARKERS)


def unreachable_fix(settings: Settings) -> str:
    """The next step when the provider's API does not answer."""
    if embeds_sandbox(settings):
        return (
            "start Billhook with 'billhook serve' (it serves the sandbox), "
            "or set BILLHOOK_BASE_URL to where it runs"
        )
    if settings.uses_sandbox:
        return "start the sandbox with 'billhook sandbox serve', or correct STRIPE_API_BASE"
    if settings.stripe_api_base:
        return "check that STRIPE_API_BASE is right and reachable from this machine"
    return "check this machine's internet connection and proxy settings (it must reach api.stripe.com)"


def describe(settings: Settings, exc: BillhookError) -> str:
    """The provider's error, or for a network failure which address did not answer."""
    if is_network_failure(exc):
        return f"{api_base(settings)} did not answer"
    return exc.message


def explain(settings: Settings, exc: BillhookError) -> str:
    """:func:`describe`, and for a network failure what to do about it."""
    if is_network_failure(exc):
        return f"{describe(settings, exc)}: {unreachable_fix(settings)}"
    return exc.message

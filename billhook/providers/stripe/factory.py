"""``build_provider(settings)``: the configured payment provider.

With ``STRIPE_SECRET_KEY`` set, Stripe itself (or ``STRIPE_API_BASE`` when given, e.g. a proxy).
Without it, the offline sandbox through the same SDK: ``STRIPE_API_BASE`` when set, else the
sandbox mounted in the app at ``<BILLHOOK_BASE_URL>/sandbox``, with a test key.
"""

from __future__ import annotations

from billhook.config import Settings
from billhook.providers.base import PaymentProvider
from billhook.providers.stripe.client import StripeProvider

SANDBOX_SECRET_KEY = "sk_test_sandbox"  # noqa: S105 (the sandbox accepts any sk_test_ key)
SANDBOX_MOUNT = "/sandbox"


def build_provider(settings: Settings) -> PaymentProvider:
    if settings.stripe_secret_key:
        return StripeProvider(settings.stripe_secret_key, settings.stripe_api_base)
    api_base = settings.stripe_api_base or f"{settings.billhook_base_url}{SANDBOX_MOUNT}"
    return StripeProvider(SANDBOX_SECRET_KEY, api_base)

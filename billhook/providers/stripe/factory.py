"""``build_provider(settings)``: the configured payment provider.

With ``STRIPE_SECRET_KEY`` set, Stripe itself (or ``STRIPE_API_BASE`` when given, e.g. a proxy or
a sandbox run on its own: with a test key its clock is asked, once), called within Stripe's rate
limits for the key's mode unless ``BILLHOOK_STRIPE_*RATE_LIMIT`` say otherwise. Without it, the
offline sandbox through the same SDK: ``STRIPE_API_BASE`` when set, else the sandbox mounted in
the app at ``<BILLHOOK_BASE_URL>/sandbox``, with a test key and no limits unless configured; its
clock is then the sandbox's (:meth:`StripeProvider.now`).
"""

from __future__ import annotations

from billhook.config import Settings
from billhook.providers.base import PaymentProvider
from billhook.providers.stripe.client import StripeProvider
from billhook.providers.stripe.limits import RateLimits

SANDBOX_SECRET_KEY = "sk_test_sandbox"  # noqa: S105 (the sandbox accepts any sk_test_ key)
SANDBOX_MOUNT = "/sandbox"


def rate_limits(settings: Settings) -> RateLimits:
    """The limits configured for ``settings``' provider (see :mod:`billhook.providers.stripe.limits`)."""
    overrides = {
        "requests_per_second": settings.billhook_stripe_rate_limit,
        "endpoint_requests_per_second": settings.billhook_stripe_endpoint_rate_limit,
        "max_attempts": settings.billhook_stripe_max_attempts,
    }
    if settings.stripe_secret_key:
        return RateLimits.for_key(settings.stripe_secret_key, **overrides)
    return RateLimits.unlimited(**{name: value for name, value in overrides.items() if value is not None})


def build_provider(settings: Settings) -> PaymentProvider:
    limits = rate_limits(settings)
    if settings.stripe_secret_key:
        key, api_base = settings.stripe_secret_key, settings.stripe_api_base
        # A test key on another API base may be a sandbox run on its own: its clock is asked once.
        maybe_sandbox = None if api_base and key.startswith("sk_test_") else False
        return StripeProvider(key, api_base, limits=limits, sandbox=maybe_sandbox)
    api_base = settings.stripe_api_base or f"{settings.billhook_base_url}{SANDBOX_MOUNT}"
    return StripeProvider(SANDBOX_SECRET_KEY, api_base, limits=limits, sandbox=True)

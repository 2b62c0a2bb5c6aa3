"""The real Stripe behind the :class:`PaymentProvider` seam (the only importer of ``stripe``)."""

from billhook.providers.stripe.client import API_VERSION, StripeProvider
from billhook.providers.stripe.factory import SANDBOX_SECRET_KEY, build_provider

__all__ = ["API_VERSION", "SANDBOX_SECRET_KEY", "StripeProvider", "build_provider"]

"""Payment providers: the :class:`PaymentProvider` seam and its implementations.

Only ``billhook.providers.stripe`` imports the ``stripe`` SDK; the sandbox speaks Stripe's HTTP
API, so the same Stripe implementation drives both.
"""

from billhook.providers.base import PaymentProvider

__all__ = ["PaymentProvider"]

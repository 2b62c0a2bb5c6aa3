"""The signing secret of Billhook's own webhook endpoint at its embedded sandbox.

Stripe shows an endpoint's signing secret once, when the endpoint is created, and afterwards in
its dashboard (https://docs.stripe.com/webhooks#endpoint-secrets). The embedded sandbox has no
dashboard, so the secret of the one endpoint Billhook registers there is derived from
``BILLHOOK_SECRET_KEY``: every process that holds the key (``serve``, ``setup``, ``check``,
``webhooks test``) knows it, in any order, and nothing has to be copied by hand.
"""

from __future__ import annotations

import hashlib
import hmac

_PURPOSE = b"billhook:embedded-sandbox:webhook-endpoint:v1"


def embedded_webhook_secret(secret_key: str) -> str:
    """``whsec_…`` from an HMAC of the secret key (one-way: the key cannot be recovered from it)."""
    digest = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).hexdigest()
    return f"whsec_{digest[:40]}"

"""The endpoint secrets a webhook delivery may be signed with (several during a rotation).

Held by the :class:`billhook.runtime.Runtime` and read by the receiver
(``billhook/inbox/endpoints.py``) for every delivery. Stripe signs with each active secret while
one is being rolled (https://docs.stripe.com/webhooks#roll-endpoint-secrets), so any may match.
"""

from __future__ import annotations

from collections.abc import Iterable


class WebhookSecrets:
    """An ordered set of secrets, mutable on purpose: the composition root adds the embedded
    sandbox endpoint's secret once the sandbox has created it, after the app was built."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def all(self) -> tuple[str, ...]:
        return tuple(self._secrets)

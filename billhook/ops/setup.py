"""``billhook setup``: the first run, without questions when given flags.

1. write the given values into ``.env`` (other lines are kept; a value given again replaces it);
2. migrate the database;
3. make the provider's products and prices match the catalog (``catalog.push``);
4. register Billhook's webhook endpoint with the provider and store its signing secret in
   ``.env`` as ``STRIPE_WEBHOOK_SECRET`` — Stripe shows an endpoint's secret only when it is
   created (https://docs.stripe.com/api/webhook_endpoints/create), so an endpoint that exists
   while ``.env`` has no secret is a problem to report, not something to guess.

Each step returns a line for the operator; a failing step stops the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from billhook.config import Settings
from billhook.errors import Conflict
from billhook.inbox.handlers import ROUTES
from billhook.ops.checks import webhook_url
from billhook.providers.actions import ProviderActions

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+,=-]*$")


def _quoted(value: str) -> str:
    if _PLAIN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_env(path: Path, values: Mapping[str, str]) -> list[str]:
    """Set ``values`` in the dotenv file at ``path``; returns the names written. Secrets are never
    echoed: the caller prints names only."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending = {name.upper(): value for name, value in values.items()}
    kept = []
    for line in lines:
        match = _LINE.match(line)
        name = match.group(1).upper() if match else None
        if name in pending:
            kept.append(f"{name}={_quoted(pending.pop(name))}")
        else:
            kept.append(line)
    kept += [f"{name}={_quoted(value)}" for name, value in pending.items()]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    path.chmod(0o600)  # it holds the API key and the webhook secret
    return sorted(name.upper() for name in values)


@dataclass(frozen=True, slots=True)
class EndpointResult:
    url: str
    endpoint_id: str
    secret: str | None  # only when created now
    created: bool


async def register_endpoint(settings: Settings, actions: ProviderActions) -> EndpointResult:
    url = webhook_url(settings)
    for endpoint in await actions.list_webhook_endpoints():
        if endpoint.url == url:
            if not settings.stripe_webhook_secret:
                raise Conflict(
                    f"{url} is registered as {endpoint.id} but .env has no STRIPE_WEBHOOK_SECRET: copy its "
                    "signing secret from the dashboard, or delete the endpoint and run setup again"
                )
            return EndpointResult(url, endpoint.id, None, False)
    created = await actions.create_webhook_endpoint(
        url=url, enabled_events=tuple(sorted(ROUTES)), idempotency_key=f"webhook-endpoint:{url}"
    )
    return EndpointResult(url, created.id, created.secret, True)

"""ASGI entry for process managers: ``uvicorn --factory billhook.asgi:build --workers 4``.

Webhook deliveries take the fast path (no routing or middleware stack); the rest is the app.
A configuration or catalog mistake stops the process with one ``error:`` line (as ``billhook
serve`` does) instead of the server's traceback.
"""

from __future__ import annotations

import sys

from billhook.app import create_app
from billhook.config import SettingsError, ensure_secret_key, load_settings
from billhook.errors import BillhookError
from billhook.inbox.endpoints import WebhookFastPath
from billhook.kit.heap import settle_heap
from billhook.logging import configure_logging
from billhook.ops.startup import check_catalog


def build() -> WebhookFastPath:
    try:
        settings = ensure_secret_key(load_settings())
        check_catalog(settings)
    except (SettingsError, BillhookError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 (before logging exists: the one line)
        raise SystemExit(1) from None
    configure_logging(settings.log_level, settings.log_format)
    app = WebhookFastPath(create_app(settings))
    settle_heap()
    return app

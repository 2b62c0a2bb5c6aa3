"""ASGI entry for process managers: ``uvicorn --factory billhook.asgi:build --workers 4``.

Webhook deliveries take the fast path (no routing or middleware stack); the rest is the app.
"""

from __future__ import annotations

from billhook.app import create_app
from billhook.config import ensure_secret_key, load_settings
from billhook.inbox.endpoints import WebhookFastPath
from billhook.kit.heap import settle_heap
from billhook.logging import configure_logging


def build() -> WebhookFastPath:
    settings = ensure_secret_key(load_settings())
    configure_logging(settings.log_level, settings.log_format)
    app = WebhookFastPath(create_app(settings))
    settle_heap()
    return app

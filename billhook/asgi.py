"""ASGI entry for process managers: ``uvicorn --factory billhook.asgi:build --workers 4``."""

from __future__ import annotations

from fastapi import FastAPI

from billhook.app import create_app
from billhook.config import ensure_secret_key, load_settings
from billhook.logging import configure_logging


def build() -> FastAPI:
    settings = ensure_secret_key(load_settings())
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)

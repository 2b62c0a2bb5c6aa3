"""Structured logs (structlog) with request ids, and no secrets or card data ever printed."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(
    r"(secret|password|passwd|token|authorization|api_key|apikey|card|cvc|cvv|signature|cookie)",
    re.IGNORECASE,
)
# Values that look like provider secrets or card numbers, wherever they appear in a message.
_SECRET_VALUES = re.compile(r"\b(sk|rk|whsec)_(live|test)?_?[A-Za-z0-9]{6,}|\b\d{13,19}\b")
REDACTED = "[redacted]"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and mask secret-looking strings."""
    for key, value in list(event.items()):
        if key != "event" and _SECRET_KEYS.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = _SECRET_VALUES.sub(REDACTED, value)
    return event


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configuration.

    Test runners and process managers swap ``sys.stderr``; a logger bound to an old stream
    would write to a closed file.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

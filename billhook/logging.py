"""Structured logs (structlog) with request ids, and no secrets or card data ever printed."""

from __future__ import annotations

import logging
import re
import sys
import traceback
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
_EMAILS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys; mask secret-looking strings and email addresses.

    Addresses are personal data: an error text that quotes one (an SMTP refusal, a provider's
    message, a uvicorn line) keeps its domain only.
    """
    for key, value in list(event.items()):
        if key != "event" and _SECRET_KEYS.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = _EMAILS.sub(_masked_email, _SECRET_VALUES.sub(REDACTED, value))
    return event


def _masked_email(match: re.Match[str]) -> str:
    return "[email]@" + match.group(0).rsplit("@", 1)[1]


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, not at configuration.

    Test runners and process managers swap ``sys.stderr``; a logger bound to an old stream
    would write to a closed file.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


# SQLAlchemy appends the statement and its parameters to a driver error; PostgreSQL's DETAIL
# line repeats the offending values ("Key (email)=(ada@example.com) already exists").
_SQL_TAIL = re.compile(r"\[(SQL|parameters):.*", re.DOTALL)
_DETAIL = re.compile(r"DETAIL:.*", re.DOTALL)
_MAX_FRAMES = 12


def _clean_message(text: str) -> str:
    text = _DETAIL.sub("", _SQL_TAIL.sub("", text))
    text = _SECRET_VALUES.sub(REDACTED, _EMAILS.sub("[email]", text))
    return " ".join(text.split())[:300]


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception as log fields: its type, a cleaned message and where it was raised.

    No SQL, no parameters, no emails and no locals: a traceback's text would carry them all
    (the submitted email of a failed login, a customer's row), and logs outlive their purpose.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-_MAX_FRAMES:]
    causes: list[str] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 5:
        causes.append(type(cause).__qualname__)
        cause = cause.__cause__ or cause.__context__
    described: dict[str, Any] = {
        "type": type(exc).__qualname__,
        "message": _clean_message(str(exc)),
        "frames": [f"{frame.filename}:{frame.lineno} {frame.name}" for frame in frames],
    }
    if causes:
        described["causes"] = causes
    return described


def clean_exception(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace ``exc_info`` with :func:`describe_exception`'s fields, for both renderers."""
    exc_info = event.pop("exc_info", None)
    if exc_info is None or exc_info is False:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else exc_info[1]
    if exc is not None:
        event["exception"] = describe_exception(exc)
    return event


def _exception_as_text(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The console renderer prints ``exception`` as text under the line."""
    described = event.get("exception")
    if isinstance(described, dict):
        lines = [f"{described['type']}: {described['message']}", *described["frames"]]
        if described.get("causes"):
            lines.append("caused by " + " <- ".join(described["causes"]))
        event["exception"] = "\n  ".join(lines)
    return event


def _renderer(fmt: str) -> list[Any]:
    if fmt == "json":
        return [structlog.processors.JSONRenderer()]
    return [_exception_as_text, structlog.dev.ConsoleRenderer(colors=False)]


def configure_logging(level: str = "INFO", fmt: str = "console") -> None:
    """One configuration for structlog and the standard library's loggers (uvicorn's included).

    With ``fmt="json"`` every line on stderr is one JSON object, including the lines uvicorn
    and asyncio write when an application error escapes.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        clean_exception,
        redact,
    ]
    structlog.configure(
        processors=[*shared, *_renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(level, fmt, shared)


def _route_standard_logging(level: str, fmt: str, shared: list[Any]) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(fmt)],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn installs handlers of its own (plain text) unless told ``log_config=None``; send its
    # records to the root handler whichever way it was started.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # One line per HTTP call to Stripe (or the sandbox) and per migration step is detail for
    # debugging, not news: below DEBUG only their warnings and errors are shown.
    chatty = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("stripe", "httpx", "httpcore", "alembic"):
        logging.getLogger(name).setLevel(chatty)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

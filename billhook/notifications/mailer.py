"""The one seam every sender sits behind: :class:`Mailer`, :class:`OutgoingEmail` and the errors.

A sender either returns a :class:`SendResult` or raises one of two errors, and that split is
what the ``email.send`` job acts on:

    MailError
    ├── TransientMailError  — try again later (connection refused, timeout, SMTP 4xx,
    │                         HTTP 5xx or 429)
    └── PermanentMailError  — retrying cannot help (SMTP 5xx such as an unknown mailbox,
                              Mailgun 400/401/404)

Messages carry no provider types, so the SMTP, Mailgun and mailbox senders and a recording
fake in tests are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered message, ready for any sender. ``from_email`` None means the sender's default."""

    to: str
    subject: str
    text: str
    html: str | None = None
    from_email: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the sender knows after the server accepted the message."""

    transport: str
    message_id: str | None = None


class MailError(Exception):
    """A send failed; ``reason`` is safe to store and log (no body, no credentials)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientMailError(MailError):
    """The server or the network failed for now; the same message may succeed later."""


class PermanentMailError(MailError):
    """The server refused this message for good; sending it again would fail the same way."""


class Mailer(Protocol):
    """Sends one message. Implementations are safe to call concurrently from many tasks."""

    @property
    def name(self) -> str:
        """A short label for logs and the CLI: ``smtp``, ``mailgun``, ``mailbox``."""
        ...

    async def send(self, message: OutgoingEmail) -> SendResult: ...

    async def aclose(self) -> None: ...

"""The SMTP sender (``aiosmtplib``): one short connection per message.

A fresh connection per message keeps the sender safe to use from many tasks at once and
means a server that hangs up between messages costs nothing. Reply classes follow RFC 5321
§4.2.1: 4yz is a transient failure (try later), 5yz a permanent one.
"""

from __future__ import annotations

import ssl
from typing import Literal

import aiosmtplib

from billhook.notifications.mailer import (
    MailError,
    OutgoingEmail,
    PermanentMailError,
    SendResult,
    TransientMailError,
)
from billhook.notifications.mime import MESSAGE_ID, build_mime

Security = Literal["auto", "starttls", "tls", "none"]
IMPLICIT_TLS_PORT = 465  # RFC 8314 §3.3: submission over implicit TLS


class SmtpMailer:
    """Sends through an SMTP server; STARTTLS or implicit TLS chosen by ``security``.

    ``auto`` means implicit TLS on port 465, otherwise STARTTLS when the server offers it, and
    STARTTLS required whenever credentials would be sent.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_email: str,
        username: str | None = None,
        password: str | None = None,
        security: Security = "auto",
        timeout: float = 15.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._from = from_email
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context
        self._use_tls, self._start_tls = _tls_mode(security, port, has_credentials=bool(username))

    async def send(self, message: OutgoingEmail) -> SendResult:
        mime = build_mime(message, self._from)
        try:
            await aiosmtplib.send(
                mime,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._start_tls,
                timeout=self._timeout,
                tls_context=self._tls_context,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc) from exc
        return SendResult(transport=self.name, message_id=str(mime[MESSAGE_ID]))

    async def aclose(self) -> None:
        """Nothing to close: connections live only as long as one message."""


def _tls_mode(security: Security, port: int, *, has_credentials: bool) -> tuple[bool, bool | None]:
    """(implicit TLS, STARTTLS) for ``aiosmtplib``; STARTTLS None means "if offered"."""
    if security == "tls" or (security == "auto" and port == IMPLICIT_TLS_PORT):
        return True, False
    if security == "starttls" or (security == "auto" and has_credentials):
        return False, True
    if security == "none":
        return False, False
    return False, None


def _reply_code(exc: BaseException) -> tuple[int, str] | None:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return refused.code, refused.message
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code, exc.message
    return None


def classify_smtp_error(exc: BaseException) -> MailError:
    """4xx replies, timeouts and connection failures are transient; 5xx replies permanent."""
    reply = _reply_code(exc)
    if reply is not None:
        code, text = reply
        reason = f"SMTP {code}: {text}".strip()
        return PermanentMailError(reason) if 500 <= code < 600 else TransientMailError(reason)
    if isinstance(exc, TimeoutError):
        return TransientMailError(f"SMTP timeout: {exc}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # e.g. STARTTLS or AUTH required by our settings but not offered: a configuration issue
        # that may be fixed on the server side, so keep retrying within the policy.
        return TransientMailError(f"SMTP server lacks a required feature: {exc}")
    return TransientMailError(f"SMTP connection failed: {type(exc).__name__}: {exc}")

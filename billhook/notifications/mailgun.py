"""The Mailgun sender: ``POST {base}/v3/{domain}/messages`` with HTTP basic auth ``api:<key>``.

Form fields follow Mailgun's "Sending messages" API (https://documentation.mailgun.com/docs/
mailgun/api-reference/send/mailgun/messages): ``from``, ``to``, ``subject``, ``text``,
``html`` and ``h:<Header>`` for extra MIME headers. Mailgun answers 200 with
``{"id", "message"}``; 400/401/404 carry ``{"message"}`` and do not improve on retry; 429
and 5xx do.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from billhook.notifications.mailer import (
    MailError,
    OutgoingEmail,
    PermanentMailError,
    SendResult,
    TransientMailError,
)

DEFAULT_API_BASE = "https://api.mailgun.net"


class MailgunMailer:
    """One pooled ``httpx.AsyncClient`` (safe for concurrent sends), timeouts on every call."""

    name = "mailgun"

    def __init__(
        self,
        *,
        api_key: str,
        domain: str,
        from_email: str,
        base_url: str = DEFAULT_API_BASE,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._path = f"/v3/{quote(domain, safe='')}/messages"
        self._from = from_email
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth("api", api_key),
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def _form(self, message: OutgoingEmail) -> dict[str, str]:
        form = {
            "from": message.from_email or self._from,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
        }
        if message.html is not None:
            form["html"] = message.html
        form.update({f"h:{name}": value for name, value in message.headers.items()})
        return form

    async def send(self, message: OutgoingEmail) -> SendResult:
        try:
            response = await self._client.post(self._path, data=self._form(message))
        except httpx.TimeoutException as exc:
            raise TransientMailError(f"Mailgun timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientMailError(f"Mailgun unreachable: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return SendResult(transport=self.name, message_id=_json_field(response, "id"))
        raise classify_mailgun_response(response)

    async def aclose(self) -> None:
        await self._client.aclose()


def _json_field(response: httpx.Response, name: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return str(value) if value is not None else None


def classify_mailgun_response(response: httpx.Response) -> MailError:
    """429 and 5xx are transient; any other refusal (400, 401, 404, …) is permanent."""
    detail = _json_field(response, "message") or response.reason_phrase or "no message"
    reason = f"Mailgun HTTP {response.status_code}: {detail[:500]}"
    if response.status_code == 429 or response.status_code >= 500:
        return TransientMailError(reason)
    return PermanentMailError(reason)

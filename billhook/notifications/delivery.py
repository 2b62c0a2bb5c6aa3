"""``queue_email``: the one way the app asks for an email. It never sends.

The message is checked, rendered (to fail loudly now, not in a job later), stored as an
``email_messages`` row and enqueued as an ``email.send`` job, both in the caller's
transaction and both under the key ``email:<template>:<recipient>:<causing object id>``.
Queuing the same thing twice — a duplicate webhook, a replay — is a no-op: the bug to avoid is
pay-rails#612, a receipt sent once per delivery of the same event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.errors import InvalidInput
from billhook.logging import get_logger
from billhook.notifications import repository
from billhook.notifications.addresses import check_header_value, parse_recipient
from billhook.notifications.brand import Brand
from billhook.notifications.templates import TEMPLATE_NAMES, normalize_context, render_email
from billhook.outbox.contracts import DEAD_LETTER_ALERT as DEAD_LETTER_ALERT_JOB
from billhook.outbox.contracts import SEND_EMAIL, SendEmail, email_key

log = get_logger(__name__)

# The job types' names, for queries and tests; the definitions are the contracts.
EMAIL_SEND = SEND_EMAIL.name
DEAD_LETTER_ALERT = DEAD_LETTER_ALERT_JOB.name
__all__ = ["DEAD_LETTER_ALERT", "EMAIL_SEND", "email_key", "queue_email"]


def _checked(template: str, key_object: str, context: Mapping[str, Any]) -> dict[str, Any]:
    if template not in TEMPLATE_NAMES:
        raise InvalidInput(f"template: unknown email template {template!r}")
    if not key_object or not key_object.strip():
        raise InvalidInput("key_object: the id of the object that causes this email is required")
    check_header_value("key_object", key_object)
    try:
        return normalize_context(context)
    except TypeError as exc:
        raise InvalidInput(f"context: {exc}") from None


async def queue_email(
    session: AsyncSession,
    *,
    template: str,
    to: str,
    context: Mapping[str, Any],
    key_object: str,
    brand: Brand | None = None,
) -> bool:
    """Store and enqueue one email in the caller's transaction; False if already queued.

    Raises :class:`InvalidInput` for a bad address, an unknown template or a line break in
    the subject, and :class:`EmailTemplateError` when the context misses a variable. The
    ``email.send`` job renders again with the running app's settings (``brand``), so the
    product name and links in the sent email are always current.
    """
    recipient = parse_recipient(to)
    values = _checked(template, key_object, context)
    rendered = render_email(template, values, brand or Brand.placeholder())
    check_header_value("subject", rendered.subject)
    key = email_key(template, recipient.address, key_object)
    inserted = await repository.insert_message(
        session,
        {
            "key": key,
            "template": template,
            "to_email": recipient.formatted,
            "subject": rendered.subject,
            "text_body": rendered.text,
            "html_body": rendered.html,
            "context": values,
        },
    )
    payload = SendEmail(template=template, to=recipient.formatted, context=values, key_object=key_object)
    enqueued = await SEND_EMAIL.enqueue(session, payload, key=key)
    if not (inserted and enqueued):
        log.info("email_already_queued", template=template, key_object=key_object)
    return inserted and enqueued

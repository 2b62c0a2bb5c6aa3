"""The local mailbox: the embedded default's "sender" keeps every message in the database.

Nothing leaves the machine; ``/dev/mailbox`` shows what would have been sent. A message that
the ``email.send`` job delivers already has its ``email_messages`` row (found through the
``Message-ID`` header the job sets), so the mailbox only confirms it; anything else (``billhook
mail test``) gets a row of its own with status ``sent``.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.notifications import repository
from billhook.notifications.mailer import OutgoingEmail, SendResult
from billhook.notifications.mime import MESSAGE_ID
from billhook.notifications.repository import EmailStatus

TEMPLATE_HEADER = "X-Billhook-Template"
_LOCAL_ID = re.compile(r"^<(msg_[0-9A-Z]+)@")


def stored_message_id(message: OutgoingEmail) -> str | None:
    """Our row id when the ``Message-ID`` header is one we made (``<msg_…@host>``)."""
    match = _LOCAL_ID.match(message.headers.get(MESSAGE_ID, ""))
    return match.group(1) if match else None


class MailboxMailer:
    """Stores messages in ``email_messages``; safe for concurrent use (one session per send)."""

    name = "mailbox"

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], from_email: str) -> None:
        self._session_factory = session_factory
        self._from = from_email

    async def send(self, message: OutgoingEmail) -> SendResult:
        async with self._session_factory() as session:
            row_id = stored_message_id(message)
            if row_id is not None and await repository.get(session, row_id) is not None:
                return SendResult(transport=self.name, message_id=row_id)
            row_id = new_id("msg")
            await repository.insert_message(
                session,
                {
                    "id": row_id,
                    "key": f"mailbox:{row_id}",
                    "template": message.headers.get(TEMPLATE_HEADER, "adhoc"),
                    "to_email": message.to,
                    "subject": message.subject,
                    "text_body": message.text,
                    "html_body": message.html,
                    "context": {"from": message.from_email or self._from},
                    "status": EmailStatus.SENT.value,
                    "attempts": 1,
                    "sent_at": utcnow(),
                },
            )
            await session.commit()
        return SendResult(transport=self.name, message_id=row_id)

    async def aclose(self) -> None:
        """Nothing to close: sessions live only as long as one message."""

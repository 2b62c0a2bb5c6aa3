"""Build the RFC 5322 message an SMTP server receives from an :class:`OutgoingEmail`."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from billhook.kit.clock import utcnow
from billhook.notifications.addresses import check_header_value
from billhook.notifications.mailer import OutgoingEmail

MESSAGE_ID = "Message-ID"


def build_mime(message: OutgoingEmail, default_from: str) -> EmailMessage:
    """A ``multipart/alternative`` message (text first, HTML preferred) with our headers.

    Header values were checked when the message was queued; they are checked again here
    because this is the last point before bytes go on the wire.
    """
    mime = EmailMessage(policy=SMTP)
    mime["From"] = check_header_value("from", message.from_email or default_from)
    mime["To"] = check_header_value("to", message.to)
    mime["Subject"] = check_header_value("subject", message.subject)
    mime["Date"] = format_datetime(utcnow())
    for name, value in message.headers.items():
        mime[check_header_value("header name", name)] = check_header_value(name, value)
    if MESSAGE_ID not in mime:
        mime[MESSAGE_ID] = make_msgid(domain="billhook.local")
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime

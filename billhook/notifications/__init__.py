"""Email notifications: templates, senders (SMTP, Mailgun, local mailbox) and delivery jobs.

Public interface::

    queue_email(session, *, template, to, context, key_object) -> bool
    CONTRACTS[template].required / .optional   # the context each template needs
    build_mailer(settings, session_factory) -> Mailer
    register_jobs(registry)          # email.send, email.dead_letter_alert
    attach_notifications(runtime)    # build_mailer + runtime.mailer + register_jobs + close on stop
"""

from __future__ import annotations

from billhook.notifications.attach import attach_notifications, register_jobs
from billhook.notifications.delivery import DEAD_LETTER_ALERT, EMAIL_SEND, email_key, queue_email
from billhook.notifications.mailer import (
    Mailer,
    MailError,
    OutgoingEmail,
    PermanentMailError,
    SendResult,
    TransientMailError,
)
from billhook.notifications.senders import MAILBOX_PATH, build_mailer
from billhook.notifications.templates import CONTRACTS, TEMPLATE_NAMES, EmailTemplateError, render_email

__all__ = [
    "CONTRACTS",
    "DEAD_LETTER_ALERT",
    "EMAIL_SEND",
    "MAILBOX_PATH",
    "TEMPLATE_NAMES",
    "EmailTemplateError",
    "MailError",
    "Mailer",
    "OutgoingEmail",
    "PermanentMailError",
    "SendResult",
    "TransientMailError",
    "attach_notifications",
    "build_mailer",
    "email_key",
    "queue_email",
    "register_jobs",
    "render_email",
]

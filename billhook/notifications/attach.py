"""``attach_notifications(runtime)``: the composition root's one call to wire email in.

It chooses the sender from settings (:func:`build_mailer`, which logs the choice), puts it on
``runtime.mailer``, registers the ``email.send`` and ``email.dead_letter_alert`` jobs, and
closes the sender (Mailgun's HTTP connection pool) when the runtime stops.
"""

from __future__ import annotations

from billhook.notifications.jobs import dead_letter_alert, send_email
from billhook.notifications.mailer import Mailer
from billhook.notifications.senders import build_mailer
from billhook.outbox import JobRegistry
from billhook.outbox.contracts import DEAD_LETTER_ALERT, SEND_EMAIL
from billhook.runtime import Runtime


def register_jobs(registry: JobRegistry) -> None:
    """Register ``email.send`` and ``email.dead_letter_alert`` with the email retry policy."""
    registry.register(SEND_EMAIL, send_email)
    registry.register(DEAD_LETTER_ALERT, dead_letter_alert)


class MailerService:
    """A runtime service whose only job is to close the mailer when the runtime stops."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        await self.mailer.aclose()


def attach_notifications(runtime: Runtime) -> Mailer:
    mailer = build_mailer(runtime.settings, runtime.session_factory)
    runtime.mailer = mailer
    register_jobs(runtime.jobs)
    runtime.services.append(MailerService(mailer))
    return mailer

"""``build_mailer``: pick the sender from settings, and say which at start-up.

SMTP when ``SMTP_HOST`` is set, else Mailgun when ``MAILGUN_API_KEY`` and ``MAILGUN_DOMAIN``
are, else the local mailbox. Choosing the mailbox is logged as a warning with where to read
the messages, so no email is ever dropped without a word.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.config import Environment, Settings, SettingsError
from billhook.errors import InvalidInput
from billhook.logging import get_logger
from billhook.notifications.addresses import parse_recipient
from billhook.notifications.brand import Brand
from billhook.notifications.mailbox import MailboxMailer
from billhook.notifications.mailer import Mailer
from billhook.notifications.mailgun import MailgunMailer
from billhook.notifications.smtp import SmtpMailer

log = get_logger(__name__)
MAILBOX_PATH = "/dev/mailbox"


def _from_address(variable: str, value: str | None, brand: Brand) -> str:
    """The configured From address, checked; the product name becomes its display name."""
    if not value:
        raise SettingsError(f"{variable}: required to send email (the From address)")
    try:
        recipient = parse_recipient(value, variable)
    except InvalidInput as exc:
        raise SettingsError(f"{variable}: {exc}") from None
    if recipient.name:
        return recipient.formatted
    return f"{brand.product_name} <{recipient.address}>"


def _smtp(settings: Settings, brand: Brand) -> SmtpMailer:
    assert settings.smtp_host
    from_email = _from_address("SMTP_FROM_EMAIL", settings.smtp_from_email or settings.smtp_user, brand)
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_email=from_email,
        username=settings.smtp_user,
        password=settings.smtp_password,
        security=settings.smtp_security,
    )


def _mailgun(settings: Settings, brand: Brand) -> MailgunMailer:
    assert settings.mailgun_api_key and settings.mailgun_domain
    sender = settings.mailgun_sender_email or f"noreply@{settings.mailgun_domain}"
    return MailgunMailer(
        api_key=settings.mailgun_api_key,
        domain=settings.mailgun_domain,
        from_email=_from_address("MAILGUN_SENDER_EMAIL", sender, brand),
        base_url=settings.mailgun_api_base,
    )


def build_mailer(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> Mailer:
    """The sender the settings ask for; raises :class:`SettingsError` on a half configuration."""
    brand = Brand.from_settings(settings)
    mailer: Mailer
    if settings.smtp_host:
        mailer = _smtp(settings, brand)
        log.info("mailer_selected", sender="smtp", host=settings.smtp_host, port=settings.smtp_port)
        return mailer
    if settings.mailgun_api_key and settings.mailgun_domain:
        mailer = _mailgun(settings, brand)
        log.info("mailer_selected", sender="mailgun", domain=settings.mailgun_domain)
        return mailer
    if settings.mailgun_api_key or settings.mailgun_domain:
        missing = "MAILGUN_DOMAIN" if settings.mailgun_api_key else "MAILGUN_API_KEY"
        raise SettingsError(f"{missing}: required with the other Mailgun setting to send through Mailgun")
    # In production this is almost surely a missing setting: say so loudly, every start.
    report = log.error if settings.billhook_env is Environment.PRODUCTION else log.warning
    report(
        "mailer_selected",
        sender="mailbox",
        detail="no SMTP_HOST or MAILGUN_API_KEY: emails are kept in the database, not sent",
        read_them_at=f"{settings.billhook_base_url}{MAILBOX_PATH}",
    )
    return MailboxMailer(session_factory, brand.default_from)

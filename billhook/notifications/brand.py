"""What every email says about the sender: product name, support address, links.

The values come from :class:`~billhook.config.Settings`. Until Settings carries the
``billhook_product_name``, ``billhook_support_email`` and ``billhook_alert_email`` fields the
defaults below apply, so templates always have something to show.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from billhook.config import Settings

DEFAULT_PRODUCT_NAME = "Billhook"


def _host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def default_support_email(base_url: str) -> str:
    """Without ``BILLHOOK_SUPPORT_EMAIL`` (development only: production requires it), the base
    URL's domain; an IP address or a bare host name is no mail domain, so ``support@localhost``."""
    host = _host(base_url)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." in host:
            return f"support@{host}"
    return "support@localhost"


@dataclass(frozen=True, slots=True)
class Brand:
    product_name: str
    support_email: str
    base_url: str
    alert_email: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Brand:
        base_url = settings.billhook_base_url
        support = settings.billhook_support_email or default_support_email(base_url)
        return cls(
            product_name=settings.billhook_product_name,
            support_email=support,
            base_url=base_url,
            alert_email=settings.billhook_alert_email,
        )

    @classmethod
    def placeholder(cls) -> Brand:
        """Defaults for a check render where no settings are at hand (the job renders again)."""
        return cls(DEFAULT_PRODUCT_NAME, "support@localhost", "http://localhost")

    @property
    def host(self) -> str:
        return _host(self.base_url)

    @property
    def default_from(self) -> str:
        """The From address when no sender setting names one (the local mailbox)."""
        return f"{self.product_name} <noreply@{_host(self.base_url)}>"

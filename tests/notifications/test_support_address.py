"""The support address emails show: the setting, else a sensible one (never support@127.0.0.1)."""

from __future__ import annotations

import pytest

from billhook.notifications.brand import default_support_email


@pytest.mark.parametrize(
    ("base_url", "address"),
    [
        ("http://127.0.0.1:8000", "support@localhost"),
        ("http://[::1]:8000", "support@localhost"),
        ("http://localhost:8000", "support@localhost"),
        ("https://billing.example.com", "support@billing.example.com"),
    ],
)
def test_without_a_setting_the_address_is_a_mail_domain(base_url: str, address: str) -> None:
    assert default_support_email(base_url) == address

from __future__ import annotations

from collections.abc import Iterator

import pytest

from billhook.logging import REDACTED, configure_logging, get_logger


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("INFO", "json")
    yield
    configure_logging("INFO", "console")  # the default, for the tests that run after this one


@pytest.mark.usefixtures("json_logs")
def test_secrets_and_card_numbers_never_reach_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    get_logger("test").info(
        "provider_call",
        api_key="sk_test_abcdefghijklmnop",
        note="charged 4242424242424242 with sk_live_1234567890abcd",
        webhook_secret="whsec_abcdef123456",
        customer="cus_123",
    )
    line = capsys.readouterr().err
    assert "4242424242424242" not in line
    assert "sk_test_abcdefghijklmnop" not in line
    assert "sk_live_1234567890abcd" not in line
    assert "whsec_abcdef123456" not in line
    assert REDACTED in line
    assert "cus_123" in line

from __future__ import annotations

import pytest

from billhook.errors import InvalidInput
from billhook.notifications.addresses import check_header_value, is_valid_address, parse_recipient


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "ada.lovelace+billing@mail.example.co.uk",
        "o'brien@example.ie",
        "x@sub-domain.example.org",
    ],
)
def test_valid_addresses_pass(address: str) -> None:
    assert is_valid_address(address)


@pytest.mark.parametrize(
    "address",
    ["", "ada", "ada@", "@example.com", "ada@example", "ada@@example.com", "ada..l@example.com",
     ".ada@example.com", "ada@-example.com", "ada @example.com", "ada@exa mple.com",
     "a" * 250 + "@example.com"],
)  # fmt: skip
def test_invalid_addresses_are_refused(address: str) -> None:
    assert not is_valid_address(address)


def test_display_names_are_kept_and_addresses_lower_cased() -> None:
    recipient = parse_recipient("Ada Lovelace <ADA@Example.COM>")

    assert (recipient.address, recipient.name) == ("ada@example.com", "Ada Lovelace")
    assert recipient.formatted == "Ada Lovelace <ada@example.com>"
    assert (
        parse_recipient('"Lovelace, Ada" <ada@example.com>').formatted == '"Lovelace, Ada" <ada@example.com>'
    )


@pytest.mark.parametrize(
    "value", ["Hi\r\nBcc: x@example.com", "Hi\nthere", "Hi\rthere", "tab\tsneaks", "nul\x00"]
)
def test_line_breaks_and_control_characters_are_refused_in_headers(value: str) -> None:
    with pytest.raises(InvalidInput, match="subject must be a single line"):
        check_header_value("subject", value)


def test_the_error_names_the_field_and_the_value() -> None:
    with pytest.raises(InvalidInput, match="to: 'ada' is not a valid email address"):
        parse_recipient("ada")

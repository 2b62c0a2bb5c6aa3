"""Registrable domain names (billhook/kit/domain_names.py)."""

from __future__ import annotations

import pytest

from billhook.kit.domain_names import InvalidDomainName, registrable_domain


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("example.com", "example.com"),
        (" Example.COM. ", "example.com"),
        ("my-shop.co.uk", "my-shop.co.uk"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.xn--p1ai", "xn--bcher-kva.xn--p1ai"),
    ],
)
def test_a_registrable_name_is_kept_in_lower_case_ascii(given: str, stored: str) -> None:
    assert registrable_domain(given) == stored


@pytest.mark.parametrize(
    "given",
    ["", "com", "localhost", "-a.com", "a-.com", "a..com", "exa mple.com", "a.b1", "127.0.0.1",
     "a_b.com", f"{'a' * 64}.com", ".".join(["abcdefghi"] * 26) + ".com"],
)  # fmt: skip
def test_anything_else_is_refused_with_a_reason(given: str) -> None:
    with pytest.raises(InvalidDomainName):
        registrable_domain(given)

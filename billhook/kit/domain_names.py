"""Domain names a registrar can register: ``example.com``, ``bücher.de``; not ``localhost``.

The rules are those of a hostname in DNS (RFC 1035 §2.3.1, RFC 1123 §2.1): labels of letters,
digits and inner hyphens, each 1-63 characters, 253 in all, compared case-insensitively.
Registrable also means a second-level name or below under an alphabetic (or ``xn--``) top-level
label, since no one registers a bare TLD or an IP address. Internationalised names are stored in
their ASCII (punycode, IDNA) form, which is what registrars take.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
MAX_LENGTH = 253


class InvalidDomainName(ValueError):
    """The text is not a domain name that can be registered; the message says why."""


def registrable_domain(value: str) -> str:
    """The name in lower-case ASCII form, or :class:`InvalidDomainName` saying what is wrong."""
    name = value.strip().rstrip(".").lower()
    if not name:
        raise InvalidDomainName("a domain name is required, such as example.com")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidDomainName(f"{value!r} is not a valid domain name") from exc
    labels = name.split(".")
    if len(labels) < 2:
        raise InvalidDomainName(f"{value!r} needs a name and a top-level domain, such as example.com")
    if len(name) > MAX_LENGTH:
        raise InvalidDomainName(f"a domain name has at most {MAX_LENGTH} characters")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidDomainName(
                f"{label!r} in {value!r}: each part has 1-63 letters, digits or inner hyphens"
            )
    if not _TOP_LEVEL.match(labels[-1]):
        raise InvalidDomainName(f"{labels[-1]!r} is not a top-level domain")
    return name

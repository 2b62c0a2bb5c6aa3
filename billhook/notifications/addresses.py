"""Address and header checks made before anything is queued or sent.

Header injection needs a line break in a header value: a CR or LF smuggled into a display
name or a subject could add a ``Bcc:`` line (RFC 5322 §2.2 — header fields end at CRLF). Any
control character in those values is refused outright rather than stripped, so the caller
learns about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from billhook.errors import InvalidInput

# A deliberately plain subset of RFC 5321 addr-spec: dot-atom local part, dotted host name.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ADDRESS_LENGTH = 254  # RFC 5321 §4.5.3.1.3 path limit minus the angle brackets


@dataclass(frozen=True, slots=True)
class Recipient:
    """A checked recipient: the bare address (lower-cased) and an optional display name."""

    address: str
    name: str = ""

    @property
    def formatted(self) -> str:
        """``Ada Lovelace <ada@example.com>`` or the bare address, safe for a header."""
        return formataddr((self.name, self.address)) if self.name else self.address


def check_header_value(field: str, value: str) -> str:
    """Refuse CR, LF and other control characters in anything that becomes a header."""
    if _CONTROL.search(value):
        raise InvalidInput(f"{field} must be a single line without control characters")
    return value


def parse_recipient(value: str, field: str = "to") -> Recipient:
    """Check ``addr`` or ``Name <addr>``; raise :class:`InvalidInput` naming ``field`` if bad."""
    check_header_value(field, value)
    raw = value.strip()
    name, address = parseaddr(raw) if "<" in raw else ("", raw)
    address = address.strip()
    if not address or len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.match(address):
        raise InvalidInput(f"{field}: {raw!r} is not a valid email address")
    return Recipient(address=address.lower(), name=name.strip())


def is_valid_address(value: str) -> bool:
    try:
        parse_recipient(value)
    except InvalidInput:
        return False
    return True

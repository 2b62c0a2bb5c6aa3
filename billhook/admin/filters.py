"""Reading the console's list filters and cursors from untrusted query strings.

Every list takes the same filters (status, plan, currency, from, to) and an opaque cursor.
Bad values raise :class:`InvalidInput` naming the field, so the page answers 422 with the
message instead of guessing; a filter a list does not support is ignored and said so.
Cursors are ``base64("<created_at iso>|<id>")`` of the last row shown: keyset pagination on
``(created_at, id)``, which costs the same on page 1,000 as on page 1 (no ``OFFSET`` scan).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from billhook.errors import InvalidInput, NotFound
from billhook.kit.money import validate_currency

MAX_QUERY = 200
_TOKEN = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
_BAD_CURSOR = "cursor: not a cursor this page made; go back to the first page"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The statuses each list knows, for the filter's choices and for validation.
STATUSES: dict[str, tuple[str, ...]] = {
    "subscriptions": (
        "trialing", "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "paused",
    ),
    "payments": ("PENDING", "SUCCEEDED", "FAILED", "PARTIALLY_REFUNDED", "REFUNDED"),
    "invoices": ("draft", "open", "paid", "uncollectible", "void"),
    "bookings": ("PENDING", "CONFIRMED", "CANCELLED"),
    "orders": ("pending", "paid", "payment_failed", "partially_refunded", "refunded"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class ListFilter:
    """``since`` inclusive, ``until`` exclusive (a ``to`` date includes its whole day)."""

    status: str | None = None
    plan: str | None = None
    currency: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, str]:
        """The filter as query parameters again (for the next page's link)."""
        values = {
            "status": self.status,
            "plan": self.plan,
            "currency": self.currency,
            "from": self.since.date().isoformat() if self.since else None,
            "to": (self.until - timedelta(days=1)).date().isoformat() if self.until else None,
        }
        return {key: value for key, value in values.items() if value}


def encode_cursor(created_at: datetime, ident: str) -> str:
    raw = f"{created_at.isoformat()}|{ident}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> Cursor | None:
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        created, separator, ident = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition("|")
        moment = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInput(_BAD_CURSOR, field="cursor") from None
    if not separator or not _TOKEN.match(ident):
        raise InvalidInput(_BAD_CURSOR, field="cursor")
    return Cursor(moment if moment.tzinfo else moment.replace(tzinfo=UTC), ident)


def _day(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)", field=name) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def parse_filter(kind: str, params: Mapping[str, str]) -> ListFilter:
    """The filter for list ``kind`` from query parameters; blank values mean "any"."""
    given = {key: (params.get(key) or "").strip() for key in ("status", "plan", "currency", "from", "to")}
    status = given["status"] or None
    if status is not None and status not in STATUSES.get(kind, ()):
        allowed = ", ".join(STATUSES.get(kind, ()))
        raise InvalidInput(f"status: {status[:40]!r} is not one of {allowed}", field="status")
    plan = given["plan"] or None
    if plan is not None and not _TOKEN.match(plan):
        raise InvalidInput("plan: use a product id from billhook.toml", field="plan")
    currency = None
    if given["currency"]:
        try:
            currency = validate_currency(given["currency"])
        except ValueError:
            raise InvalidInput("currency: use a three-letter code such as usd", field="currency") from None
    since = _start_of(_day("from", given["from"])) if given["from"] else None
    until = _start_of(_day("to", given["to"]) + timedelta(days=1)) if given["to"] else None
    if since is not None and until is not None and since >= until:
        raise InvalidInput("from: must be on or before to", field="from")
    return ListFilter(status, plan, currency, since, until)


def search_text(value: str | None) -> str:
    """The customer search box, trimmed; too long a query or control characters are refused.

    (PostgreSQL rejects a NUL byte in text outright, so it must never reach a query.)
    """
    text = (value or "").strip()
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"q: at most {MAX_QUERY} characters", field="q")
    if _CONTROL.search(text):
        raise InvalidInput("q: remove the control characters", field="q")
    return text


def is_ident(value: str) -> bool:
    """Our ids and provider ids are short tokens; anything else cannot name a row."""
    return bool(_TOKEN.match(value))


def known_id(value: str, what: str) -> str:
    """An id from a URL path: a malformed one is simply not found (404), like an unknown one."""
    if not is_ident(value):
        raise NotFound(f"no {what} {value[:40]!r}")
    return value


def form_ids(values: list[str], name: str, *, limit: int = 100) -> list[str]:
    """Ids ticked in a form (at least one, at most ``limit``, each well formed, no repeats)."""
    chosen = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    if not chosen:
        raise InvalidInput(f"{name}: tick at least one", field=name)
    if len(chosen) > limit:
        raise InvalidInput(f"{name}: at most {limit} at once", field=name)
    bad = next((value for value in chosen if not is_ident(value)), None)
    if bad is not None:
        raise InvalidInput(f"{name}: {bad[:40]!r} is not an id", field=name)
    return chosen

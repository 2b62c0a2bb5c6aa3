"""Reading the parts of an event envelope the inbox stores beside the raw payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billhook.kit.clock import from_timestamp

# Objects whose own id is the customer id (``customer.*`` events).
_CUSTOMER_OBJECTS = {"customer"}


class InvalidEvent(Exception):
    """A verified body that is not a Stripe event envelope."""


@dataclass(frozen=True, slots=True)
class Envelope:
    event_id: str
    type: str
    object_id: str | None
    ordering_key: str | None
    api_version: str | None
    livemode: bool
    created: datetime | None


def _customer_of(obj: dict[str, Any]) -> str | None:
    if obj.get("object") in _CUSTOMER_OBJECTS:
        value = obj.get("id")
        return value if isinstance(value, str) else None
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) and customer else None


def read_envelope(payload: Any) -> Envelope:
    """Validate the envelope's shape; the ordering key is the customer when derivable."""
    if not isinstance(payload, dict):
        raise InvalidEvent("the event must be a JSON object")
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise InvalidEvent("the event has no valid 'id'")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise InvalidEvent("the event has no valid 'type'")
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidEvent("the event has no 'data.object'")
    raw_object_id = obj.get("id")
    object_id = raw_object_id if isinstance(raw_object_id, str) and len(raw_object_id) <= 255 else None
    customer = _customer_of(obj)
    ordering_key = customer if customer and len(customer) <= 255 else object_id
    api_version = payload.get("api_version")
    created = payload.get("created")
    valid_created = isinstance(created, int) and not isinstance(created, bool) and 0 <= created < 2**33
    return Envelope(
        event_id=event_id,
        type=event_type,
        object_id=object_id,
        ordering_key=ordering_key,
        api_version=api_version if isinstance(api_version, str) and len(api_version) <= 50 else None,
        livemode=payload.get("livemode") is True,
        created=from_timestamp(created) if valid_created else None,
    )


def mismatch_flag(
    envelope: Envelope, expected_livemode: bool, expected_api_version: str | None
) -> str | None:
    """Name what differs from the configured account, or None when all matches."""
    flags = []
    if envelope.livemode != expected_livemode:
        flags.append("livemode_mismatch")
    if expected_api_version and envelope.api_version and envelope.api_version != expected_api_version:
        flags.append("api_version_mismatch")
    return ",".join(flags) or None

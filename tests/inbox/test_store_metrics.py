"""The inbox's Prometheus counters count every stored event once, batched or not."""

from __future__ import annotations

from prometheus_client import REGISTRY

from billhook.inbox.envelope import read_envelope
from billhook.inbox.store import Incoming, _count
from billhook.kit.clock import utcnow


def _incoming(event_id: str, event_type: str, flag: str | None = None) -> Incoming:
    payload = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": 1_760_000_000,
        "livemode": False,
        "api_version": "2026-10-28.endive",
        "data": {"object": {"id": "in_1", "object": "invoice", "customer": "cus_1"}},
    }
    return Incoming(read_envelope(payload), payload, "webhook", flag, utcnow())


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_counts_each_stored_flagged_and_duplicate_event() -> None:
    paid = {"type": "invoice.paid", "source": "webhook"}
    failed = {"type": "invoice.payment_failed", "source": "webhook"}
    before = (
        _value("billhook_inbox_events_received_total", **paid),
        _value("billhook_inbox_events_received_total", **failed),
        _value("billhook_inbox_events_flagged_total", flag="livemode_mismatch"),
        _value("billhook_inbox_events_duplicate_total", source="webhook"),
    )
    batch = [
        _incoming("evt_m1", "invoice.paid"),
        _incoming("evt_m2", "invoice.paid", flag="livemode_mismatch"),
        _incoming("evt_m3", "invoice.payment_failed"),
        _incoming("evt_m4", "invoice.paid"),  # already stored: a duplicate
    ]

    _count(batch, inserted={"evt_m1", "evt_m2", "evt_m3"})

    after = (
        _value("billhook_inbox_events_received_total", **paid),
        _value("billhook_inbox_events_received_total", **failed),
        _value("billhook_inbox_events_flagged_total", flag="livemode_mismatch"),
        _value("billhook_inbox_events_duplicate_total", source="webhook"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1, 1]

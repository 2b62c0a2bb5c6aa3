"""Prometheus metrics of the inbox, on the default registry (scraped with everything else)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_RECEIVED = Counter(
    "billhook_inbox_events_received_total",
    "Verified provider events stored in the inbox, by type and source (webhook, reconcile).",
    ["type", "source"],
)
EVENTS_DUPLICATE = Counter(
    "billhook_inbox_events_duplicate_total",
    "Deliveries of events the inbox already held.",
    ["source"],
)
EVENTS_FLAGGED = Counter(
    "billhook_inbox_events_flagged_total",
    "Stored events whose livemode or api_version differ from the configured ones.",
    ["flag"],
)
DELIVERIES_REJECTED = Counter(
    "billhook_inbox_deliveries_rejected_total",
    "Webhook requests refused before storing, by error code.",
    ["code"],
)
EVENTS_PROCESSED = Counter(
    "billhook_inbox_events_processed_total",
    "Events applied to the mirror, by type and outcome (processed, failed, dead, unhandled).",
    ["type", "outcome"],
)
PROCESSING_ATTEMPTS = Counter(
    "billhook_inbox_processing_attempts_total",
    "Attempts at applying an event (every try, first or retry).",
    ["type"],
)
DEAD_LETTERS = Counter(
    "billhook_inbox_dead_letters_total",
    "Events whose attempts ran out; kept with their error for replay.",
    ["type"],
)
PROCESSING_LAG = Histogram(
    "billhook_inbox_processing_lag_seconds",
    "Time from receiving an event to having applied it.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)

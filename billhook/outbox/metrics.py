"""Prometheus metrics for the outbox, on the default registry (``/metrics`` exposes them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOBS_RUN = Counter("billhook_outbox_jobs_run", "Outbox jobs that completed, by type.", ["type"])
JOBS_FAILED = Counter(
    "billhook_outbox_jobs_failed", "Outbox job attempts that raised and will be retried.", ["type"]
)
JOBS_DEAD = Counter("billhook_outbox_jobs_dead", "Outbox jobs moved to the dead-letter state.", ["type"])
CLAIM_TO_START = Histogram(
    "billhook_outbox_claim_to_start_seconds",
    "Time from a worker claiming a job to its handler starting.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
DUE_TO_START = Histogram(
    "billhook_outbox_due_to_start_seconds",
    "Time from a job becoming due (commit or retry time) to its handler starting.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

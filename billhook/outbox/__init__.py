"""Transactional outbox: jobs written with the state change that causes them, run by workers."""

from billhook.outbox.enqueue import enqueue
from billhook.outbox.jobs import (
    EMAIL_POLICY,
    FULFILMENT_POLICY,
    JobContext,
    JobHandler,
    JobRegistry,
    PermanentJobError,
    RetryPolicy,
    UnknownJobType,
)

__all__ = [
    "EMAIL_POLICY",
    "FULFILMENT_POLICY",
    "JobContext",
    "JobHandler",
    "JobRegistry",
    "PermanentJobError",
    "RetryPolicy",
    "UnknownJobType",
    "enqueue",
]

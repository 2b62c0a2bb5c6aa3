"""Entitlements: who may use what, from the subscription mirror, purchases and the catalog."""

from billhook.entitlements.jobs import SYNC_JOB, sync_job
from billhook.entitlements.rules import Entitlements, PlanGrant, Reason, evaluate
from billhook.entitlements.service import EntitlementChange, entitlements_for, sync_entitlements
from billhook.outbox import JobRegistry
from billhook.outbox.contracts import SYNC_ENTITLEMENTS

__all__ = [
    "SYNC_JOB",
    "EntitlementChange",
    "Entitlements",
    "PlanGrant",
    "Reason",
    "entitlements_for",
    "evaluate",
    "register_jobs",
    "sync_entitlements",
]


def register_jobs(registry: JobRegistry) -> None:
    registry.register(SYNC_ENTITLEMENTS, sync_job)

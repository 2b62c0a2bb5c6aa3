"""The billing event log: append-only audit entries saying what changed and which event caused it."""

from billhook.audit.changes import Changes, apply_changes
from billhook.audit.service import Cause, record

__all__ = ["Cause", "Changes", "apply_changes", "record"]

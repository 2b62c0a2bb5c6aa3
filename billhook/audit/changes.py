"""Apply provider values to a mirror row and say what changed, in a JSON-ready shape."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from billhook.db.mirror import Changes

__all__ = ["Changes", "apply_changes"]


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def apply_changes(
    row: Any, values: Mapping[str, Any], *, silent: frozenset[str] = frozenset({"raw"})
) -> Changes:
    """Set each attribute of ``row`` from ``values``; return the changes of the non-silent ones.

    ``silent`` columns (the raw provider JSON) are updated but never reported as changes, so
    re-applying the same provider state yields no change and no audit entry.
    """
    changes: Changes = {}
    for name, new in values.items():
        old = getattr(row, name)
        if old == new:
            continue
        setattr(row, name, new)
        if name not in silent:
            changes[name] = [_json(old), _json(new)]
    return changes

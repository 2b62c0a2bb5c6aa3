"""Stripe's own example objects (``tests/fixtures/stripe``): the key set each resource must have."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

# Stripe's example objects, a subset of openapi/fixtures3.json (source and licence: tests/fixtures/README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "fixtures3.subset.json"


@cache
def stripe_keys(resource: str) -> set[str]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return set(resources[resource])


def assert_shaped(resource: str, obj: Any, *, extra: frozenset[str] = frozenset()) -> None:
    keys = set(obj.to_dict() if hasattr(obj, "to_dict") else obj)
    expected = stripe_keys(resource) | extra
    assert keys == expected, (
        f"{resource}: missing {sorted(expected - keys)}, unexpected {sorted(keys - expected)}"
    )

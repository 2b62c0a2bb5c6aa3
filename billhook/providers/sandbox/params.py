"""Stripe's form encoding (``a[b][0][c]=v``, ``expand[]=x``) and a typed reader over it.

The reader remembers which parameters a handler looked at, so that anything else can be refused
as ``parameter_unknown`` the way Stripe does, instead of being silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import InvalidRequest, invalid, missing

MAX_INTEGER = 2**53 - 1  # what JSON clients can represent exactly
MAX_AMOUNT = 99_999_999  # Stripe's ceiling for a USD amount: $999,999.99
MAX_QUANTITY = 1_000_000
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn ``[("items[0][price]", "p")]`` into ``{"items": [{"price": "p"}]}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise invalid(key, f"Invalid parameter name: {key}")
        segments = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _assign(root, segments, value, key)
    decoded: dict[str, Any] = _listify(root, parent="")
    return decoded


def _assign(node: dict[str, Any], segments: list[str], value: str, key: str) -> None:
    for depth, segment in enumerate(segments):
        name = str(len(node)) if segment == "" else segment
        if depth == len(segments) - 1:
            node[name] = value
            return
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise invalid(key, f"Invalid parameter: {key} mixes a value and nested keys.")
        node = child


def _listify(node: Any, parent: str) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v, k) for k, v in node.items()}
    if parent != "metadata" and converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class Params:
    """Typed access to decoded params; raises Stripe's ``parameter_*`` errors naming the param."""

    def __init__(self, data: dict[str, Any], prefix: str = "", used: set[str] | None = None) -> None:
        self.data = data
        self.prefix = prefix
        self.used: set[str] = set() if used is None else used

    def path(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        self.used.add(self.path(key))
        return self.data.get(key)

    def text(self, key: str, *, choices: Iterable[str] | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(self.path(key), f"Invalid string: {self.path(key)} must be a string.")
        if choices is not None and value != "" and value not in set(choices):
            allowed = ", ".join(sorted(choices))
            raise invalid(self.path(key), f"Invalid {self.path(key)}: must be one of {allowed}")
        return value

    def require_text(self, key: str, *, choices: Iterable[str] | None = None) -> str:
        value = self.text(key, choices=choices)
        if value is None:
            raise missing(self.path(key))
        if value == "":
            raise InvalidRequest(
                f"You passed an empty string for '{self.path(key)}'. We assume empty values are an "
                "attempt to unset a parameter; however this parameter cannot be unset.",
                code="parameter_invalid_empty",
                param=self.path(key),
            )
        return value

    def integer(self, key: str, *, minimum: int | None = None, maximum: int = MAX_INTEGER) -> int | None:
        value = self.text(key)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            raise invalid(
                self.path(key), f"Invalid integer: {value}", code="parameter_invalid_integer"
            ) from None
        if number > maximum:
            raise invalid(
                self.path(key),
                f"Invalid {self.path(key)}: must be at most {maximum}",
                code="parameter_invalid_integer",
            )
        if minimum is not None and number < minimum:
            raise invalid(
                self.path(key),
                f"Invalid {self.path(key)}: must be at least {minimum}",
                code="parameter_invalid_integer",
            )
        return number

    def require_integer(self, key: str, *, minimum: int | None = None, maximum: int = MAX_INTEGER) -> int:
        value = self.integer(key, minimum=minimum, maximum=maximum)
        if value is None:
            raise missing(self.path(key))
        return value

    def number(self, key: str) -> float | None:
        value = self.text(key)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except ValueError:
            raise invalid(
                self.path(key), f"Invalid decimal: {value}", code="parameter_invalid_decimal"
            ) from None

    def flag(self, key: str) -> bool | None:
        value = self.text(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise invalid(self.path(key), f"Invalid boolean: {value}", code="parameter_invalid_boolean")
        return value == "true"

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """``metadata=""`` clears all keys, ``metadata[k]=""`` clears one (see Stripe's metadata docs)."""
        value = self.raw(key)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise invalid(self.path(key), "Invalid metadata: must be a hash of strings.")
        return dict(value)

    def sub(self, key: str) -> Params | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(self.path(key), f"Invalid hash: {self.path(key)} must be a hash.")
        return Params(value, self.path(key), self.used)

    def each(self, key: str) -> list[Params] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(self.path(key), f"Invalid array: {self.path(key)} must be an array of hashes.")
        return [Params(v, f"{self.path(key)}[{i}]", self.used) for i, v in enumerate(value)]

    def texts(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(self.path(key), f"Invalid array: {self.path(key)} must be an array of strings.")
        return list(value)

    def unknown(self) -> list[str]:
        """Leaf params nobody read, top-level names first (what Stripe names in ``parameter_unknown``)."""
        leaves = list(_leaf_paths(self.data, self.prefix))
        return [
            leaf
            for leaf in leaves
            if not any(leaf == used or leaf.startswith(used + "[") for used in self.used)
        ]


def _leaf_paths(node: Any, prefix: str) -> Iterable[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaf_paths(value, f"{prefix}[{key}]" if prefix else key)
    elif isinstance(node, list) and node:
        for index, value in enumerate(node):
            yield from _leaf_paths(value, f"{prefix}[{index}]")
    elif prefix:
        yield prefix


def merge_metadata(current: dict[str, str], update: dict[str, str] | None) -> dict[str, str]:
    if update is None:
        return current
    if not update:
        return {}
    merged = {**current, **update}
    return {k: v for k, v in merged.items() if v != ""}

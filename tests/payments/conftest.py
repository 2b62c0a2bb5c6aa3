"""A module-shared running stack and people (fixtures in tests/support/shared_stack.py)."""

from __future__ import annotations

from tests.support.shared_stack import people, sandbox_template, shared_stack

__all__ = ["people", "sandbox_template", "shared_stack"]

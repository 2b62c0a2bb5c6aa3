"""The same module-shared running stack and people as ``tests/payments_api``."""

from __future__ import annotations

from tests.payments_api.conftest import people, sandbox_template, shared_stack

__all__ = ["people", "sandbox_template", "shared_stack"]

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack, sandbox_template

__all__ = ["sandbox_template"]


@pytest.fixture
async def stack(database_url: str, tmp_path: Path, sandbox_template: Path) -> AsyncIterator[Stack]:
    async with running_stack(database_url, tmp_path, sandbox_template) as running:
        yield running

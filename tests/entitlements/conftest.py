from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.app_harness import Harness, harness


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url) as built:
        yield built

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.admin import admin_harness
from tests.support.app_harness import Harness


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    async with admin_harness(database_url) as built:
        yield built

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.accounts.fast_db import database_url, reused_pg_database
from tests.accounts.harness import Harness, harness

__all__ = ["database_url", "reused_pg_database"]


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url) as built:
        yield built

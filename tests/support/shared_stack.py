"""Fixtures for a module-shared running stack (payments, bookings and ops tests) and its people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.databases import BACKENDS, migrated_database
from tests.support.payments import People, make_people
from tests.support.stack import Stack, running_stack, sandbox_template

__all__ = ["sandbox_template"]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def shared_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_databases: Any,
    sandbox_template: Path,
) -> AsyncIterator[Stack]:
    tmp_path = tmp_path_factory.mktemp(f"stack-{request.param}")
    async with (
        migrated_database(str(request.param), tmp_path, sqlite_template, pg_databases) as url,
        running_stack(url, tmp_path, sandbox_template) as stack,
    ):
        yield stack


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def people(shared_stack: Stack, request: pytest.FixtureRequest) -> People:
    return await make_people(shared_stack, request.module.__name__.rsplit(".", 1)[-1].replace("_", "-"))

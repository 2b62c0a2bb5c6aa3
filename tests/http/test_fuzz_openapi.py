"""A bounded fuzz run over the OpenAPI schema (schemathesis) against the whole served product.

Every operation gets a few generated requests, valid and invalid, as an anonymous caller and as
a signed-in customer, on PostgreSQL (where NUL and surrogates used to end in a 500). No answer
may be a 5xx, and every answer must match the responses the schema documents for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from tests.support.stack import PASSWORD, Stack, running_stack

BUDGET_SECONDS = 60.0
EXAMPLES_PER_OPERATION = 12
# Signing out would revoke the token the other operations run with; it is covered elsewhere.
SKIPPED = {("POST", "/api/auth/logout")}
CHECKS: list[Any] = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture
async def stack(backend: str, database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    if backend != "postgresql":
        pytest.skip("the fuzz run is on PostgreSQL, the production database")
    async with running_stack(database_url, tmp_path) as running:
        yield running


def _sign_in(root: str) -> dict[str, str]:
    with httpx.Client(base_url=root, timeout=10) as client:
        body = {"email": "fuzz@example.com", "password": PASSWORD}
        assert client.post("/api/auth/register", json=body).status_code == 201
        token = client.post("/api/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _fuzz(operation: Any, run: Callable[[Any], None]) -> None:
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        run(case)

    fuzz()


async def test_no_operation_answers_5xx_or_off_schema(stack: Stack) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.root}/openapi.json")
    who = [{}, await _signed_in(stack)]
    failures: list[str] = []
    deadline = time.monotonic() + BUDGET_SECONDS

    calls: list[int] = []

    def call(case: Any, headers: dict[str, str]) -> None:
        response = case.call(base_url=stack.root, headers=headers, timeout=10)
        calls.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect them all, then report
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {exc}"[:600])

    def run(case: Any) -> None:
        for headers in who:
            call(case, headers)
        if with_nul(case):  # the same requests with NUL in every string PostgreSQL would store
            for headers in who:
                call(case, headers)

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED or time.monotonic() > deadline:
            continue
        await _in_thread(_fuzz, operation, run)
    assert not failures, "\n\n".join(failures[:10])
    assert len(operations) >= 25 and len(calls) >= 20 * len(operations)


def _nul(value: Any) -> Any:
    if isinstance(value, str):
        return value + "\x00"
    if isinstance(value, dict):
        return {key: _nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nul(item) for item in value]
    return value


def with_nul(case: Any) -> bool:
    """Append NUL to every string of ``case``'s body, query and path; False when it has none."""
    changed = False
    for part in ("body", "query", "path_parameters"):
        value = getattr(case, part, None)
        if isinstance(value, (dict, list, str)) and value:
            mutated = _nul(value)
            if mutated != value:
                setattr(case, part, mutated)
                changed = True
    return changed


async def _signed_in(stack: Stack) -> dict[str, str]:
    return await _in_thread(_sign_in, stack.root)


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Blocking HTTP calls leave the test's loop free (the server runs on its own thread)."""
    return await asyncio.to_thread(function, *args)

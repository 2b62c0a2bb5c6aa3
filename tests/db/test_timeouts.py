"""Every wait on PostgreSQL is bounded: a statement, a connection attempt, a pool checkout."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import exc, text

from billhook.db import create_engine
from billhook.db.engine import DatabaseTimeouts
from billhook.http.errors import install_error_handlers


async def test_a_long_statement_is_cancelled_at_the_statement_timeout(
    database_url: str, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    engine = create_engine(database_url, timeouts=DatabaseTimeouts(statement=0.5))
    started = time.monotonic()
    try:
        with pytest.raises((exc.DBAPIError, TimeoutError)):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT pg_sleep(5)"))
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 2


async def test_a_server_that_never_answers_the_connection_times_out() -> None:
    with socket.socket() as silent:  # accepts TCP connections (backlog) and never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = create_engine(
            f"postgresql+asyncpg://nobody@127.0.0.1:{port}/x", timeouts=DatabaseTimeouts(connect=0.5)
        )
        started = time.monotonic()
        try:
            with pytest.raises((TimeoutError, exc.DBAPIError, OSError)):
                async with engine.connect():
                    pass
        finally:
            await engine.dispose()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "error",
    [TimeoutError(), exc.TimeoutError("QueuePool limit reached"), ConnectionRefusedError()],
    ids=["statement", "pool-checkout", "refused"],
)
async def test_an_unavailable_database_is_a_503_not_a_500(error: Exception) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/query")
    async def query() -> None:
        await asyncio.sleep(0)
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/query")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"

"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from billhook import __version__
from billhook.http.deps import RuntimeDep
from billhook.http.errors import error_response
from billhook.runtime import Runtime

router = APIRouter(tags=["health"])
# Each probe of a dependency is bounded: /readyz answers 503 within 2 s while PostgreSQL (or
# Redis) is frozen, instead of hanging a load balancer's health check.
PROBE_TIMEOUT_SECONDS = 1.0


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


def _still_starting(runtime: Runtime) -> str | None:
    """What a service is still doing before requests can succeed (e.g. pushing the catalog)."""
    for service in runtime.services:
        pending = getattr(service, "pending", None)
        reason = pending() if callable(pending) else None
        if reason:
            return str(reason)
    return None


async def _dependency_failure(runtime: Runtime) -> str | None:
    """Name the first dependency that does not answer, or None when all do."""
    starting = _still_starting(runtime)
    if starting:
        return starting
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return f"database did not answer within {PROBE_TIMEOUT_SECONDS} s"
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable ({type(exc).__name__})"
    if runtime.redis is not None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await runtime.redis.ping()
        except Exception as exc:
            return f"redis unreachable ({type(exc).__name__})"
    return None


@router.get(
    "/readyz",
    summary="Start-up has finished and the database (and Redis, when configured) answer",
    response_model=None,
)
async def readyz(runtime: RuntimeDep) -> dict[str, str] | JSONResponse:
    failure = await _dependency_failure(runtime)
    if failure:
        return error_response(503, "unavailable", failure)
    ready = {"status": "ready", "database": runtime.engine.dialect.name}
    if runtime.redis is not None:
        ready["redis"] = "ok"
    return ready

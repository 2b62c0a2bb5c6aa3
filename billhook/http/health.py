"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from billhook import __version__
from billhook.http.deps import RuntimeDep
from billhook.http.errors import error_response
from billhook.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


async def _dependency_failure(runtime: Runtime) -> str | None:
    """Name the first dependency that does not answer, or None when all do."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable ({type(exc).__name__})"
    if runtime.redis is not None:
        try:
            await runtime.redis.ping()
        except Exception as exc:
            return f"redis unreachable ({type(exc).__name__})"
    return None


@router.get("/readyz", summary="The database (and Redis, when configured) answer", response_model=None)
async def readyz(runtime: RuntimeDep) -> dict[str, str] | JSONResponse:
    failure = await _dependency_failure(runtime)
    if failure:
        return error_response(503, "unavailable", failure)
    ready = {"status": "ready", "database": runtime.engine.dialect.name}
    if runtime.redis is not None:
        ready["redis"] = "ok"
    return ready

"""``GET /metrics``: Prometheus text exposition of the process's default registry.

Counters and histograms live beside the code they measure (inbox, outbox, notifications);
this module only serves them. Gauges computed from the database are refreshed first by the
hooks the application lists in ``app.state.metrics_refreshers`` (see ``billhook.app``); if one
fails (the database is down), the last values are served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from billhook.http.deps import RuntimeDep
from billhook.logging import get_logger
from billhook.runtime import Runtime

router = APIRouter(tags=["operations"])
log = get_logger(__name__)
MetricsRefresher = Callable[[Runtime], Awaitable[object]]


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    refreshers: list[MetricsRefresher] = getattr(request.app.state, "metrics_refreshers", [])
    for refresh in refreshers:
        try:
            await refresh(runtime)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("metrics_not_refreshed", error_type=type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

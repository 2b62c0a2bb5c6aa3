"""``GET /metrics``: Prometheus text exposition of the process's default registry.

Counters and histograms live beside the code they measure (inbox, outbox, notifications);
this module only serves them, after refreshing the revenue gauges (billhook.analytics.metrics:
at most one grouped query every 30 seconds; if the database is down the last values are served).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from billhook.analytics.metrics import refresh_gauges
from billhook.http.deps import RuntimeDep
from billhook.logging import get_logger

router = APIRouter(tags=["operations"])
log = get_logger(__name__)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    try:
        async with runtime.session_factory() as session:
            await refresh_gauges(session)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("revenue_gauges_not_refreshed", error_type=type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

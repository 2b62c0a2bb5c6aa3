"""``GET /api/me/entitlements``: the role, entitlements and the reasons behind them."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from billhook.accounts.deps import CurrentUser
from billhook.entitlements.rules import resulting_role
from billhook.entitlements.service import entitlements_for, grace_period
from billhook.http.deps import RuntimeDep, SessionDep

router = APIRouter(prefix="/api", tags=["entitlements"])


class ReasonOut(BaseModel):
    source: str
    source_id: str
    product_id: str | None
    status: str
    granted: bool
    role: str | None
    entitlements: list[str]
    detail: str
    until: datetime | None


class EntitlementsOut(BaseModel):
    role: str
    entitlements: list[str]
    reasons: list[ReasonOut]


@router.get("/me/entitlements", summary="What the signed-in user may use, and why")
async def my_entitlements(user: CurrentUser, session: SessionDep, runtime: RuntimeDep) -> EntitlementsOut:
    result = await entitlements_for(
        session, user, now=runtime.clock.now(), grace=grace_period(runtime.settings)
    )
    return EntitlementsOut(
        role=resulting_role(user.role, result.role),
        entitlements=list(result.entitlements),
        reasons=[
            ReasonOut(
                source=r.source,
                source_id=r.source_id,
                product_id=r.product_id,
                status=r.status,
                granted=r.granted,
                role=r.role,
                entitlements=list(r.entitlements),
                detail=r.detail,
                until=r.until,
            )
            for r in result.reasons
        ],
    )

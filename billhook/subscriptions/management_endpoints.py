"""``/api/subscription`` (overview, cancel, resume, change-plan, retry-payment) and ``/api/payments/portal``.

Each acts on the caller's own subscription; an optional ``subscription_id`` naming someone
else's is 404, never 403, so ids cannot be probed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends
from pydantic import BaseModel, ConfigDict, Field

from billhook.accounts.deps import CacheDep, CurrentUser
from billhook.checkout.deps import ActionsDep, ProviderDep
from billhook.checkout.service import check_redirect, subscription_summary
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.models import User
from billhook.runtime import Runtime
from billhook.subscriptions.management import (
    ManagementDeps,
    cancel_at_period_end,
    change_plan,
    plan_change_body,
    portal_url,
    resume,
    retry_payment,
)
from billhook.subscriptions.overview import (
    cached_overview,
    store_overview,
    subscription_list,
    subscription_overview,
)

router = APIRouter(tags=["subscriptions"])


def management_deps(
    session: SessionDep, runtime: RuntimeDep, actions: ActionsDep, provider: ProviderDep, cache: CacheDep
) -> ManagementDeps:
    return ManagementDeps(session, actions, provider, runtime.settings, runtime.clock, cache)


DepsDep = Annotated[ManagementDeps, Depends(management_deps)]


class SubscriptionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription_id: str | None = Field(default=None, max_length=255)


class CancelIn(SubscriptionRef):
    reason: str | None = Field(default=None, max_length=1000)


class ChangePlanIn(SubscriptionRef):
    product_id: str = Field(min_length=1, max_length=100)
    preview: bool = False
    # During a trial the change keeps the trial and charges nothing, unless this ends it now.
    end_trial: bool = False


class PortalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: str | None = Field(default=None, max_length=2000)


async def _refresh(runtime: Runtime, deps: ManagementDeps, user_id: str) -> None:
    """Recompute a stale overview after the response, in its own session."""
    async with runtime.session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            return
        fresh = ManagementDeps(session, deps.actions, deps.provider, deps.settings, deps.clock, deps.cache)
        await store_overview(deps.cache, user_id, await subscription_overview(fresh, user), deps.clock.now())


class SubscriptionItem(BaseModel):
    subscription_id: str
    kind: Literal["plan", "domain"]  # a domain subscription renews one domain's registration
    product_id: str | None
    product_name: str | None
    domain: str | None  # the domain a "domain" subscription pays for
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    trial_end: datetime | None


class SubscriptionList(BaseModel):
    items: list[SubscriptionItem]


@router.get("/api/subscription")
async def get_subscription(
    user: CurrentUser, deps: DepsDep, runtime: RuntimeDep, background: BackgroundTasks
) -> dict[str, Any]:
    """The subscription: the plan whenever you have one (whichever you bought first), else your
    newest domain subscription; ``kind`` says which. Without a ``subscription_id`` the actions
    below act on this one. ``GET /api/subscriptions`` lists every live subscription."""
    cached = await cached_overview(deps, user)
    if cached.stale:
        background.add_task(_refresh, runtime, deps, user.id)
    return cached.data


@router.get("/api/subscriptions")
async def list_subscriptions(user: CurrentUser, session: SessionDep) -> SubscriptionList:
    """Every live subscription (active, trialing, past_due, unpaid, incomplete): the plan first,
    then domain subscriptions, newest first. Each can be named by ``subscription_id`` in the
    actions below."""
    items = [SubscriptionItem.model_validate(item) for item in await subscription_list(session, user)]
    return SubscriptionList(items=items)


@router.post("/api/subscription/cancel")
async def cancel(body: CancelIn, user: CurrentUser, deps: DepsDep) -> dict[str, Any]:
    """Cancel at the end of the current period (access continues until then)."""
    row = await cancel_at_period_end(
        deps, user, reason=body.reason, requested_by=f"user:{user.id}", subscription_id=body.subscription_id
    )
    return subscription_summary(row)


@router.post("/api/subscription/resume")
async def resume_subscription(body: SubscriptionRef, user: CurrentUser, deps: DepsDep) -> dict[str, Any]:
    row = await resume(deps, user, requested_by=f"user:{user.id}", subscription_id=body.subscription_id)
    return subscription_summary(row)


@router.post("/api/subscription/change-plan")
async def change(body: ChangePlanIn, user: CurrentUser, deps: DepsDep) -> dict[str, Any]:
    """With ``preview``: the proration due now, changing nothing. Without: apply it."""
    result = await change_plan(
        deps,
        user,
        product_id=body.product_id,
        preview=body.preview,
        requested_by=f"user:{user.id}",
        subscription_id=body.subscription_id,
        end_trial=body.end_trial,
    )
    return plan_change_body(result)


@router.post("/api/subscription/retry-payment")
async def retry(body: SubscriptionRef, user: CurrentUser, deps: DepsDep) -> dict[str, Any]:
    row = await retry_payment(deps, user, subscription_id=body.subscription_id)
    return subscription_summary(row)


@router.post("/api/payments/portal")
async def portal(body: PortalIn, user: CurrentUser, deps: DepsDep) -> dict[str, str]:
    settings = deps.settings
    return_url = (
        check_redirect(body.return_url, "return_url", settings) or f"{settings.billhook_base_url}/account"
    )
    return {"url": await portal_url(deps, user, return_url=return_url)}

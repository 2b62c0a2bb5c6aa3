"""``/api/payments`` (admin list with statistics), ``/api/me/payments``, one payment, and refunds.

The lead mounts :data:`router`. Reads are 404 for a payment the caller may not see; a refund is
admin only and answers 202: the payment's status follows the provider's events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.accounts.deps import CacheDep, CurrentUser, require_role
from billhook.accounts.errors import Forbidden
from billhook.checkout.deps import ActionsDep
from billhook.http.deps import RuntimeDep, SessionDep, get_session
from billhook.models import User
from billhook.payments import queries
from billhook.payments.refunds import RefundRequest, request_refund
from billhook.payments.stats import invalidate_payment_stats, payment_stats
from billhook.providers.actions import RefundReason

router = APIRouter(tags=["payments"])
AdminUser = Annotated[User, Depends(require_role("admin"))]
# A refund's audit entry commits before the response is sent (see bookings.endpoints).
WriteSessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, description="minor units; omit for the full remainder")
    reason: RefundReason
    request_key: str | None = Field(default=None, min_length=1, max_length=100)


def _page(page: queries.PaymentPage) -> dict[str, Any]:
    return {"items": [queries.payment_view(p) for p in page.items], "next_cursor": page.next_cursor}


@router.get("/api/payments")
async def list_payments(
    *,
    session: SessionDep,
    cache: CacheDep,
    _: AdminUser,
    status_: Annotated[str | None, Query(alias="status")] = None,
    user_id: str | None = None,
    currency: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    disputed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    spec = queries.normalized_filter(
        status=status_, user_id=user_id, currency=currency, since=since, until=until, disputed=disputed
    )
    page = await queries.list_payments(session, spec, limit=limit, cursor=cursor)
    stats, cached = await payment_stats(session, cache)
    return {**_page(page), "stats": {**stats.as_dict(), "cached": cached}}


@router.get("/api/me/payments")
async def my_payments(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """What the user paid, and, for a coach, the payments for the sessions they coach."""
    spec = queries.PaymentFilter(paid_by_or_coached_by=user.id)
    return _page(await queries.list_payments(session, spec, limit=limit, cursor=cursor))


@router.get("/api/payments/{payment_id}")
async def get_payment(payment_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    payment = await queries.visible_payment(session, user, payment_id)
    refunds = await queries.refunds_of(session, payment.id)
    return {**queries.payment_view(payment), "refunds": [queries.refund_view(r) for r in refunds]}


@router.post("/api/payments/{payment_id}/refund", status_code=status.HTTP_202_ACCEPTED)
async def refund_payment(
    payment_id: str,
    *,
    body: RefundIn,
    session: WriteSessionDep,
    runtime: RuntimeDep,
    actions: ActionsDep,
    cache: CacheDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    # Not require_role: who may not even see the payment gets 404 (no probing), the payer 403.
    await queries.visible_payment(session, user, payment_id)
    if user.role != "admin":
        raise Forbidden("only an admin can refund a payment")
    requested = await request_refund(
        session,
        actions,
        RefundRequest(
            payment_id, body.amount, body.reason, body.request_key or idempotency_key, f"user:{user.id}"
        ),
        now=runtime.clock.now(),
    )
    await invalidate_payment_stats(cache)
    return {
        "payment_id": requested.payment.id,
        "payment_status": requested.payment.status,
        "refund": {
            "id": requested.refund.id,
            "amount": requested.refund.amount,
            "currency": requested.refund.currency,
            "status": requested.refund.status,
        },
        "replayed": requested.replayed,
    }

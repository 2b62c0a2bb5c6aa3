"""``POST /api/payments/checkout`` and ``GET /api/payments/checkout/{session_id}/status``."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response, status

from billhook.accounts.deps import CurrentUser
from billhook.bookings.checkout import BookingCheckoutDeps
from billhook.bookings.endpoints import checkout_booking
from billhook.bookings.schemas import BookingCheckoutIn, BookingCheckoutOut
from billhook.checkout.completion import checkout_status
from billhook.checkout.deps import CheckoutDepsDep
from billhook.checkout.schemas import CheckoutIn, CheckoutOut, CheckoutStatusOut
from billhook.checkout.service import (
    CheckoutDeps,
    CheckoutInput,
    StartedCheckout,
    release_claim,
    start_checkout,
)
from billhook.errors import InvalidInput
from billhook.models import User

router = APIRouter(prefix="/api/payments", tags=["checkout"])


def checkout_out(started: StartedCheckout) -> CheckoutOut:
    return CheckoutOut(
        session_id=started.session_id,
        url=started.url,
        checkout_url=started.url,
        expires_at=started.expires_at,
        payment_id=started.payment_id,
        order_id=started.order_id,
        amount=started.amount,
        currency=started.currency,
        reused=started.reused,
    )


async def _checkout_booking(body: CheckoutIn, user: User, deps: CheckoutDeps) -> BookingCheckoutOut:
    if body.product_id or body.price_id:
        raise InvalidInput("booking_id: give a booking or a product/price, not both")
    booking_deps = BookingCheckoutDeps(deps.session, deps.actions, deps.provider, deps.settings, deps.clock)
    request = BookingCheckoutIn(success_url=body.success_url, cancel_url=body.cancel_url)
    return await checkout_booking(str(body.booking_id), request, booking_deps, user)


@router.post("/checkout", status_code=status.HTTP_201_CREATED)
async def create_checkout(
    body: CheckoutIn,
    user: CurrentUser,
    deps: CheckoutDepsDep,
    response: Response,
    background: BackgroundTasks,
) -> CheckoutOut | BookingCheckoutOut:
    """Open a hosted Checkout Session (201), or return the user's open one for the price (200).

    With ``booking_id`` it pays a coaching booking instead (see :mod:`billhook.bookings`).
    """
    if body.booking_id is not None:
        return await _checkout_booking(body, user, deps)
    started = await start_checkout(deps, user, CheckoutInput(**body.model_dump(exclude={"booking_id"})))
    # Background tasks run after the request's transaction has committed.
    background.add_task(release_claim, deps.cache, user.id, started)
    if started.reused:
        response.status_code = status.HTTP_200_OK
    return checkout_out(started)


@router.get("/checkout/{session_id}/status")
async def get_checkout_status(session_id: str, user: CurrentUser, deps: CheckoutDepsDep) -> CheckoutStatusOut:
    found = await checkout_status(deps, user, session_id)
    return CheckoutStatusOut(
        session_id=found.session_id,
        status=found.status,
        payment_status=found.payment_status,
        mode=found.mode,
        product_id=found.product_id,
        entitlement_active=found.entitlement_active,
        role=found.role,
    )

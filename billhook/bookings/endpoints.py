"""``/api/bookings``: book a coach, list and read bookings, and pay one through hosted Checkout.

The lead mounts :data:`router` and routes ``POST /api/payments/checkout {booking_id, …}`` to
:func:`checkout_booking` (same body, same response).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from billhook.accounts.deps import CurrentUser
from billhook.bookings.checkout import BookingCheckoutDeps, hold_window, start_booking_checkout
from billhook.bookings.schemas import BookingCheckoutIn, BookingCheckoutOut, BookingIn, booking_view
from billhook.bookings.service import NewBooking, create_booking, list_bookings, visible_booking
from billhook.checkout.deps import ActionsDep, ProviderDep
from billhook.http.deps import RuntimeDep, SessionDep
from billhook.kit.money import Money
from billhook.models import User

router = APIRouter(prefix="/api/bookings", tags=["bookings"])


def booking_checkout_deps(
    session: SessionDep, runtime: RuntimeDep, actions: ActionsDep, provider: ProviderDep
) -> BookingCheckoutDeps:
    return BookingCheckoutDeps(session, actions, provider, runtime.settings, runtime.clock)


BookingCheckoutDepsDep = Annotated[BookingCheckoutDeps, Depends(booking_checkout_deps)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def book(
    body: BookingIn, session: SessionDep, runtime: RuntimeDep, provider: ProviderDep, user: CurrentUser
) -> dict[str, Any]:
    data = NewBooking(**body.model_dump())
    booking = await create_booking(
        session, provider, user, data, now=runtime.clock.now(), hold_window=hold_window(runtime.settings)
    )
    return booking_view(booking)


@router.get("")
async def bookings(
    session: SessionDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> dict[str, Any]:
    return {"items": [booking_view(b) for b in await list_bookings(session, user, limit)]}


@router.get("/{booking_id}")
async def booking(booking_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return booking_view(await visible_booking(session, user, booking_id))


async def checkout_booking(
    booking_id: str, body: BookingCheckoutIn, deps: BookingCheckoutDeps, user: User
) -> BookingCheckoutOut:
    started = await start_booking_checkout(
        deps, user, booking_id, success_url=body.success_url, cancel_url=body.cancel_url
    )
    return BookingCheckoutOut(
        session_id=started.session_id,
        url=started.url,
        payment_id=started.payment_id,
        amount=started.amount,
        currency=started.currency,
        amount_display=Money(started.amount, started.currency).format(),
        reused=started.reused,
        expires_at=started.expires_at,
    )


@router.post("/{booking_id}/checkout", status_code=status.HTTP_201_CREATED)
async def pay_booking(
    booking_id: str, body: BookingCheckoutIn, deps: BookingCheckoutDepsDep, user: CurrentUser
) -> BookingCheckoutOut:
    return await checkout_booking(booking_id, body, deps, user)

"""Booking job: a paid booking becomes CONFIRMED; the client and the coach are told."""

from __future__ import annotations

from typing import Any

from billhook.fulfilment.records import Target
from billhook.fulfilment.requests import request_email
from billhook.models import Booking, BookingStatus, User
from billhook.outbox import JobContext, PermanentJobError


async def confirm_booking(ctx: JobContext, target: Target) -> dict[str, Any]:
    booking_id = target.item.details.get("booking_id") or (target.order.metadata_ or {}).get("booking_id")
    booking = await ctx.session.get(Booking, str(booking_id)) if booking_id else None
    if booking is None:
        raise PermanentJobError(
            f"order {target.order.id} pays for booking {booking_id!r}, which does not exist"
        )
    if booking.status == BookingStatus.CANCELLED:
        raise PermanentJobError(f"booking {booking.id} was cancelled before its payment arrived; refund it")
    booking.status = BookingStatus.CONFIRMED
    await ctx.session.flush()
    client = await ctx.session.get(User, booking.client_id)
    coach = await ctx.session.get(User, booking.coach_id)
    context = {
        "booking_id": booking.id, "start_at": booking.start_at.isoformat(),
        "duration_minutes": booking.duration_minutes, "amount": booking.amount, "currency": booking.currency,
        "client_name": client.name if client else None, "coach_name": coach.name if coach else None,
        "client_email": client.email if client else None, "notes": booking.notes,
    }  # fmt: skip
    if client is not None:
        await request_email(ctx.session, template="booking_confirmed", to=client.email, context=context,
                            cause_id=booking.id)  # fmt: skip
    if coach is not None:
        await request_email(ctx.session, template="booking_new_for_coach", to=coach.email, context=context,
                            cause_id=booking.id)  # fmt: skip
    return {"booking_id": booking.id, "status": booking.status}

"""Request and response bodies of the bookings API (the seed's shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from billhook.bookings.slots import MAX_SESSION_MINUTES
from billhook.kit.money import Money
from billhook.models import Booking


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coach_id: str = Field(min_length=1, max_length=40)
    start_at: AwareDatetime
    duration_minutes: int = Field(ge=15, le=MAX_SESSION_MINUTES)
    price: int | None = Field(default=None, gt=0, le=100_000_000, description="minor units")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    client_id: str | None = Field(default=None, max_length=40, description="when a coach or admin books")
    notes: str | None = Field(default=None, max_length=2000)


class BookingCheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success_url: str | None = Field(default=None, max_length=2000)
    cancel_url: str | None = Field(default=None, max_length=2000)


class BookingCheckoutOut(BaseModel):
    session_id: str
    url: str
    payment_id: str
    amount: int
    currency: str
    amount_display: str
    reused: bool = False
    # When the hosted page stops taking payment (BILLHOOK_BOOKING_CHECKOUT_MINUTES after it opened).
    expires_at: datetime | None = None


def booking_view(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.id,
        "client_id": booking.client_id,
        "coach_id": booking.coach_id,
        "start_at": booking.start_at.isoformat(),
        "duration_minutes": booking.duration_minutes,
        "amount": booking.amount,
        "currency": booking.currency,
        "amount_display": Money(booking.amount, booking.currency).format(),
        "status": booking.status,
        "notes": booking.notes,
        "created_at": _iso(booking.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

"""Booking a coach. Only flushes; the request commits.

Who books (issue 9): a client books for themselves; a coach (for their own sessions) or an admin
may book on a client's behalf with ``client_id``. The price of a session is the booking product's
catalog price (``coaching_session`` in billhook.toml) in the requested currency; only the coach or
an admin may set another ``price``/``currency`` (there is no per-coach price column: a coach's own
rate is given when they book, or an admin's). Visibility: the client, the coach and admins; anyone
else gets 404, as if the booking did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.bookings import repository
from billhook.bookings.slots import Hold, Slot, refuse_overlap
from billhook.errors import InvalidInput, NotFound
from billhook.kit.money import validate_currency
from billhook.models import Booking, BookingStatus, User
from billhook.providers.base import PaymentProvider

COACH_ROLE = "coach"
ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class NewBooking:
    coach_id: str
    start_at: datetime
    duration_minutes: int
    price: int | None = None
    currency: str | None = None
    client_id: str | None = None
    notes: str | None = None


def may_see(viewer: User, booking: Booking) -> bool:
    return viewer.role == ADMIN_ROLE or viewer.id in (booking.client_id, booking.coach_id)


async def visible_booking(
    session: AsyncSession, viewer: User, booking_id: str, *, lock: bool = False
) -> Booking:
    booking = await repository.booking(session, booking_id, lock=lock)
    if booking is None or not may_see(viewer, booking):
        raise NotFound(f"no booking {booking_id}")
    return booking


async def list_bookings(session: AsyncSession, viewer: User, limit: int = 100) -> Sequence[Booking]:
    return await repository.bookings_for(session, viewer, limit)


async def _client(session: AsyncSession, author: User, data: NewBooking) -> User:
    if author.role in (COACH_ROLE, ADMIN_ROLE):
        if not data.client_id:
            raise InvalidInput("client_id: a coach or admin books on behalf of a client", field="client_id")
        client = await repository.user(session, data.client_id)
        if client is None or not client.is_active:
            raise InvalidInput(f"client_id: no active user {data.client_id}", field="client_id")
        return client
    if data.client_id not in (None, author.id):
        raise InvalidInput("client_id: you can only book for yourself", field="client_id")
    return author


async def _coach(session: AsyncSession, author: User, coach_id: str) -> User:
    coach = await repository.user(session, coach_id)
    if coach is None or coach.role != COACH_ROLE or not coach.is_active:
        raise InvalidInput(f"coach_id: no coach {coach_id}", field="coach_id")
    if author.role == COACH_ROLE and coach.id != author.id:
        raise InvalidInput("coach_id: a coach books only their own sessions", field="coach_id")
    return coach


async def session_price(session: AsyncSession, author: User, data: NewBooking) -> tuple[int, str]:
    """``(amount, currency)``: the coach's or admin's price when given, else the catalog's."""
    currency = _currency(data.currency)
    if data.price is not None:
        if author.role not in (COACH_ROLE, ADMIN_ROLE):
            raise InvalidInput("price: only the coach or an admin sets the price", field="price")
        if currency is None:
            raise InvalidInput("currency: required with price", field="currency")
        return data.price, currency
    product = await repository.booking_product(session)
    prices = await repository.active_prices(session, product.id) if product else []
    if product is None or not prices:
        raise InvalidInput("price: no booking product in the catalog; give price and currency", field="price")
    if currency is None:
        preferred = list((product.raw or {}).get("currencies", []))
        chosen = min(prices, key=lambda p: preferred.index(p.currency) if p.currency in preferred else 99)
        return chosen.unit_amount, chosen.currency
    for price in prices:
        if price.currency == currency:
            return price.unit_amount, currency
    offered = ", ".join(p.currency for p in prices)
    raise InvalidInput(f"currency: sessions are sold in {offered}", field="currency")


def _currency(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return validate_currency(value)
    except ValueError as exc:
        raise InvalidInput(f"currency: {exc}", field="currency") from None


async def create_booking(
    session: AsyncSession,
    provider: PaymentProvider,
    author: User,
    data: NewBooking,
    *,
    now: datetime,
    hold_window: timedelta,
) -> Booking:
    """A PENDING booking, refused (409) when the coach's time is held (:mod:`billhook.bookings.slots`)."""
    if data.start_at <= now:
        raise InvalidInput("start_at: must be in the future", field="start_at")
    coach = await _coach(session, author, data.coach_id)
    client = await _client(session, author, data)
    if client.id == coach.id:
        raise InvalidInput("coach_id: a coach cannot book themselves", field="coach_id")
    amount, currency = await session_price(session, author, data)
    slot = Slot(coach.id, data.start_at, data.duration_minutes)
    await refuse_overlap(session, provider, slot, hold=Hold(now, hold_window))
    booking = Booking(
        client_id=client.id,
        coach_id=coach.id,
        start_at=data.start_at,
        duration_minutes=data.duration_minutes,
        amount=amount,
        currency=currency,
        status=BookingStatus.PENDING,
        notes=data.notes,
    )
    session.add(booking)
    await session.flush()
    await record(
        session,
        Cause(actor=f"user:{author.id}"),
        action="booking.created",
        subject_type="booking",
        subject_id=booking.id,
        changes={"status": [None, booking.status], "amount": [None, amount], "currency": [None, currency]},
        user_id=client.id,
    )
    return booking

"""Queries behind bookings and their payments; services never build SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.models import Booking, BookingStatus, Payment, PaymentStatus, Price, Product, User

PAID = (PaymentStatus.SUCCEEDED.value, PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.REFUNDED.value)


async def user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def booking(session: AsyncSession, booking_id: str, *, lock: bool = False) -> Booking | None:
    query = select(Booking).where(Booking.id == booking_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def bookings_for(session: AsyncSession, viewer: User, limit: int) -> Sequence[Booking]:
    query = select(Booking)
    if viewer.role != "admin":
        query = query.where(or_(Booking.client_id == viewer.id, Booking.coach_id == viewer.id))
    query = query.order_by(Booking.start_at.desc(), Booking.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def coach_bookings_between(
    session: AsyncSession, coach_id: str, since: datetime, until: datetime
) -> Sequence[Booking]:
    """The coach's bookings not cancelled that start in ``[since, until)``, earliest first."""
    query = select(Booking).where(
        Booking.coach_id == coach_id,
        Booking.status != BookingStatus.CANCELLED.value,
        Booking.start_at >= since,
        Booking.start_at < until,
    )
    return (await session.scalars(query.order_by(Booking.start_at, Booking.id))).all()


async def booking_product(session: AsyncSession) -> Product | None:
    """The catalog product whose fulfilment is ``booking`` (``coaching_session`` in billhook.toml)."""
    query = (
        select(Product).where(Product.fulfilment == "booking", Product.active.is_(True)).order_by(Product.id)
    )
    return await session.scalar(query.limit(1))


async def active_prices(session: AsyncSession, product_id: str) -> Sequence[Price]:
    query = select(Price).where(
        Price.product_id == product_id, Price.active.is_(True), Price.interval.is_(None)
    )
    return (await session.scalars(query.order_by(Price.currency))).all()


async def payments_of(session: AsyncSession, booking_id: str) -> Sequence[Payment]:
    query = select(Payment).where(Payment.booking_id == booking_id)
    return (await session.scalars(query.order_by(Payment.created_at, Payment.id))).all()


async def payment_by_intent(session: AsyncSession, intent_id: str) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.stripe_payment_intent_id == intent_id))


async def pending_checkout_payment(session: AsyncSession, checkout_stripe_id: str) -> Payment | None:
    """The payment record a booking checkout opened and no intent has claimed yet."""
    query = select(Payment).where(
        Payment.checkout_session_stripe_id == checkout_stripe_id,
        Payment.stripe_payment_intent_id.is_(None),
    )
    return await session.scalar(query.with_for_update())

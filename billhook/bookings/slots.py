"""Which bookings hold their coach's time, and the 409 for a time already held.

A booking holds its slot while it may still become a paid session:

* CONFIRMED: always; CANCELLED: never;
* PENDING with no payment attempt yet: for as long as a checkout it opened would stay open
  (``BILLHOOK_BOOKING_CHECKOUT_MINUTES`` from its booking); past that, a booking nobody pays for
  no longer blocks the coach's calendar (a client could otherwise hold any number of times
  without paying). An attempt whose checkout is not open yet counts the same from its creation;
* PENDING with attempts: while one of them is live, i.e. paid or being paid (its payment is
  PENDING with an intent, or SUCCEEDED), or its hosted checkout is still ``open``. A card declined
  on the hosted page fails the payment (``card_declined``) but the page stays open until it
  expires and can still be paid with another card, so a failed attempt releases the slot only
  once its session is over (``checkout_expired``, or the provider says ``expired``).

Once every attempt is over, the booking stays PENDING (its client may pay again) but no longer
blocks anyone: another client can book that time. Paying again re-checks the slot
(:func:`refuse_taken`), so the client whose time was taken gets a 409 instead of a second paid
session at the same time.

The session's state is asked of the provider only when the mirror cannot tell (a PENDING record
with no intent yet, a declined one), and only for bookings overlapping the requested time: the
provider's clock decides expiry (the sandbox's may run ahead of Billhook's), and a
``checkout.session.expired`` not yet delivered does not keep the slot. When the provider does not
answer, the record decides: the session counts as open until the ``expires_at`` it was opened
with, by Billhook's clock (a clock behind the provider's only holds the time longer, never
double-books it), or, with no expiry recorded, as open.

Both checks hold the coach's slot lock until commit, so two clients booking the same time, or a
booking and a paying-again, are serialised (PostgreSQL; SQLite has one writer at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.bookings import repository
from billhook.db.locks import hold_until_commit
from billhook.errors import Conflict, ProviderError
from billhook.models import Booking, BookingStatus, Payment, PaymentStatus
from billhook.providers.base import PaymentProvider

CHECKOUT_EXPIRED = "checkout_expired"
_EXPIRES_AT = "checkout_expires_at"
# The longest session BookingIn accepts: a booking starting this much earlier cannot overlap.
MAX_SESSION_MINUTES = 480


@dataclass(frozen=True, slots=True)
class Hold:
    """How long an unpaid booking, or an attempt, keeps its time before a checkout is open."""

    now: datetime
    window: timedelta  # BILLHOOK_BOOKING_CHECKOUT_MINUTES: what an opened checkout would get

    def within(self, since: datetime) -> bool:
        return self.now < since + self.window


async def _attempt_live(provider: PaymentProvider, payment: Payment, hold: Hold) -> bool:
    if payment.status in repository.PAID:
        return True
    if payment.status == PaymentStatus.FAILED and payment.failure_code == CHECKOUT_EXPIRED:
        return False
    if payment.status == PaymentStatus.PENDING and payment.stripe_payment_intent_id:
        return True  # the checkout completed and the payment is under way
    if not payment.checkout_session_stripe_id:
        return payment.status == PaymentStatus.PENDING and hold.within(payment.created_at)
    try:
        checkout = await provider.get_checkout_session(payment.checkout_session_stripe_id)
    except ProviderError:  # down, or refusing for now: what was recorded decides (see above)
        expires_at = recorded_checkout_expiry(payment)
        return expires_at is None or hold.now < expires_at
    return checkout.status != "expired"


def checkout_expiry_record(expires_at: datetime | None) -> dict[str, str]:
    """What a payment record keeps of its checkout's expiry (in ``Payment.raw``)."""
    return {_EXPIRES_AT: expires_at.isoformat()} if expires_at is not None else {}


def recorded_checkout_expiry(payment: Payment) -> datetime | None:
    recorded = (payment.raw or {}).get(_EXPIRES_AT)
    try:
        return datetime.fromisoformat(recorded) if isinstance(recorded, str) else None
    except ValueError:
        return None


async def holds_slot(session: AsyncSession, provider: PaymentProvider, booking: Booking, hold: Hold) -> bool:
    """Whether ``booking`` keeps its coach's time from others (see the module's docstring)."""
    if booking.status != BookingStatus.PENDING:
        return booking.status == BookingStatus.CONFIRMED
    attempts = await repository.payments_of(session, booking.id)
    if not attempts:
        return hold.within(booking.created_at)
    for payment in reversed(attempts):  # the newest attempt is the likeliest live one
        if await _attempt_live(provider, payment, hold):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Slot:
    """A coach's time ``[start, start + minutes)``."""

    coach_id: str
    start: datetime
    minutes: int

    @classmethod
    def of(cls, booking: Booking) -> Slot:
        return cls(booking.coach_id, booking.start_at, booking.duration_minutes)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    def overlaps(self, other: Slot) -> bool:
        return other.start < self.end and self.start < other.end


async def holder_of(
    session: AsyncSession, provider: PaymentProvider, slot: Slot, *, hold: Hold, excluding: str | None = None
) -> Booking | None:
    """The booking holding any of the coach's time in ``slot``, if one does."""
    await hold_until_commit(session, f"coach-slots:{slot.coach_id}")
    since = slot.start - timedelta(minutes=MAX_SESSION_MINUTES)
    for other in await repository.coach_bookings_between(session, slot.coach_id, since, slot.end):
        if other.id == excluding:
            continue
        if slot.overlaps(Slot.of(other)) and await holds_slot(session, provider, other, hold):
            return other
    return None


async def refuse_overlap(session: AsyncSession, provider: PaymentProvider, slot: Slot, *, hold: Hold) -> None:
    """409 when the requested time overlaps a booking that holds its slot."""
    other = await holder_of(session, provider, slot, hold=hold)
    if other is not None:
        raise Conflict(f"the coach is already booked from {other.start_at.isoformat()}", booking=other.id)


async def refuse_taken(
    session: AsyncSession, provider: PaymentProvider, booking: Booking, *, hold: Hold
) -> None:
    """409 when, while ``booking`` was unpaid and held nothing, another booking took its time."""
    other = await holder_of(session, provider, Slot.of(booking), hold=hold, excluding=booking.id)
    if other is not None:
        raise Conflict(
            f"booking {booking.id} can no longer be paid: it went unpaid past its hold and the coach's "
            f"time from {other.start_at.isoformat()} has since been booked by someone else; "
            "book another time",
            booking=other.id,
        )

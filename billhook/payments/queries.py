"""Reading payments: the admin list (filters, cursor pages), a user's history, and who may see one.

Visibility (issue 9): an admin sees every payment, a user the payments they made, a coach the
payments of bookings they give. Anyone else is told the payment does not exist (404, never 403)
so ids cannot be probed. Cursors are opaque: ``base64("<created_at iso>|<id>")``, newest first.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.errors import InvalidInput, NotFound
from billhook.kit.money import Money, validate_currency
from billhook.models import Booking, Payment, PaymentStatus, Refund, User

MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    status: str | None = None
    user_id: str | None = None
    currency: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    disputed: bool | None = None
    # A user's own history: what they paid, and the payments for the sessions they coach.
    paid_by_or_coached_by: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentPage:
    items: list[Payment]
    next_cursor: str | None


def encode_cursor(payment: Payment) -> str:
    raw = f"{payment.created_at.isoformat()}|{payment.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, payment_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        return datetime.fromisoformat(created), payment_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this API returned", field="cursor") from None


def normalized_filter(
    *,
    status: str | None,
    user_id: str | None,
    currency: str | None,
    since: datetime | None,
    until: datetime | None,
    disputed: bool | None = None,
) -> PaymentFilter:
    """Validate filters once, for the API and the CLI alike."""
    if status is not None:
        upper = status.strip().upper()
        if upper not in PaymentStatus.__members__:
            allowed = ", ".join(s.value for s in PaymentStatus)
            raise InvalidInput(f"status: {status!r} is not one of {allowed}", field="status")
        status = upper
    if currency is not None:
        try:
            currency = validate_currency(currency)
        except ValueError as exc:
            raise InvalidInput(f"currency: {exc}", field="currency") from None
    if since and until and since > until:
        raise InvalidInput("since: must not be after until", field="since")
    return PaymentFilter(status, user_id, currency, since, until, disputed)


def _filtered(query: Select[Any], spec: PaymentFilter) -> Select[Any]:
    if spec.status:
        query = query.where(Payment.status == spec.status)
    if spec.user_id:
        query = query.where(Payment.user_id == spec.user_id)
    if spec.currency:
        query = query.where(Payment.currency == spec.currency)
    if spec.since:
        query = query.where(Payment.created_at >= spec.since)
    if spec.until:
        query = query.where(Payment.created_at < spec.until)
    if spec.disputed is not None:
        query = query.where(Payment.disputed.is_(spec.disputed))
    if spec.paid_by_or_coached_by:
        viewer = spec.paid_by_or_coached_by
        coached = select(Booking.id).where(Booking.coach_id == viewer)
        query = query.where(or_(Payment.user_id == viewer, Payment.booking_id.in_(coached)))
    return query


async def list_payments(
    session: AsyncSession, spec: PaymentFilter, *, limit: int = 50, cursor: str | None = None
) -> PaymentPage:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: between 1 and {MAX_LIMIT}", field="limit")
    query = _filtered(select(Payment), spec)
    if cursor:
        created, payment_id = decode_cursor(cursor)
        query = query.where(
            or_(Payment.created_at < created, and_(Payment.created_at == created, Payment.id < payment_id))
        )
    newest_first = query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)
    rows: list[Payment] = list((await session.scalars(newest_first)).all())
    more = len(rows) > limit
    items = rows[:limit]
    return PaymentPage(items, encode_cursor(items[-1]) if more and items else None)


async def visible_payment(session: AsyncSession, viewer: User, payment_id: str) -> Payment:
    """The payment if ``viewer`` may see it, else :class:`NotFound` (the same for both cases)."""
    payment = await session.get(Payment, payment_id)
    if payment is None or not await may_see(session, viewer, payment):
        raise NotFound(f"no payment {payment_id}")
    return payment


async def may_see(session: AsyncSession, viewer: User, payment: Payment) -> bool:
    if viewer.role == "admin" or (payment.user_id is not None and payment.user_id == viewer.id):
        return True
    if payment.booking_id is None:
        return False
    booking = await session.get(Booking, payment.booking_id)
    return booking is not None and viewer.id in (booking.coach_id, booking.client_id)


async def refunds_of(session: AsyncSession, payment_id: str) -> list[Refund]:
    rows = await session.scalars(
        select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at, Refund.id)
    )
    return list(rows)


def payment_view(payment: Payment) -> dict[str, Any]:
    """The public shape of a payment: minor units plus the currency's own display."""
    return {
        "id": payment.id,
        "status": payment.status,
        "amount": payment.amount,
        "amount_refunded": payment.amount_refunded,
        "currency": payment.currency,
        "amount_display": Money(payment.amount, payment.currency).format(),
        "amount_refunded_display": Money(payment.amount_refunded, payment.currency).format(),
        "disputed": payment.disputed,
        "user_id": payment.user_id,
        "booking_id": payment.booking_id,
        "order_id": payment.order_id,
        "payment_intent_id": payment.stripe_payment_intent_id,
        "checkout_session_id": payment.checkout_session_stripe_id,
        "description": payment.description,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": payment.created_at.isoformat(),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.stripe_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "amount_display": Money(refund.amount, refund.currency).format(),
        "status": refund.status,
        "reason": refund.reason,
    }

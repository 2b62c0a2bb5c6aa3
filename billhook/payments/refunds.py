"""Refunding a payment through the provider, once per intent however often it is asked.

The request only *asks*: the payment's status moves when the provider's ``charge.refunded`` /
``refund.*`` events reach the inbox (the state machine in ``payments.states``), and the inbox
queues the ``refund_issued`` email once per refund. What this module guarantees:

* the idempotency key is ``refund:<payment>:<amount or full>:<request key>``; a caller that sends
  the same request key (an ``Idempotency-Key`` header, ``--request-key``) gets the same refund
  (https://docs.stripe.com/api/idempotent_requests). Without one the key is the current ten-minute
  window, so a nervous double-click or a re-run command refunds once;
* a repeat of a request already made is replayed to the provider with its key (which returns the
  original refund) instead of being checked against the now smaller remaining amount;
* more than the remaining amount (the charge's refunded total and refunds already requested) → 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.kit.money import Money
from billhook.models import AuditEntry, Payment, PaymentStatus, Refund
from billhook.payments.service import sync_refund
from billhook.providers.actions import ProviderActions, RefundReason
from billhook.providers.base import ProviderRefund

REQUEST_ACTION = "refund.requested"
WINDOW_SECONDS = 600
_REFUNDABLE = {PaymentStatus.SUCCEEDED.value, PaymentStatus.PARTIALLY_REFUNDED.value}
_COUNTED_REFUND_STATUSES = ("succeeded", "pending", "requires_action")


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment_id: str
    amount: int | None
    reason: RefundReason | None
    request_key: str | None
    actor: str


@dataclass(frozen=True, slots=True)
class RequestedRefund:
    refund: ProviderRefund
    payment: Payment
    idempotency_key: str
    replayed: bool


def refund_key(payment_id: str, amount: int | None, request_key: str | None, now: datetime) -> str:
    window = request_key or f"w{int(now.timestamp()) // WINDOW_SECONDS}"
    return f"refund:{payment_id}:{amount if amount is not None else 'full'}:{window}"


async def remaining_amount(session: AsyncSession, payment: Payment) -> int:
    """What can still be refunded: the charge's total less refunds known here or at the charge."""
    requested = await session.scalars(
        select(Refund.amount).where(
            Refund.payment_id == payment.id, Refund.status.in_(_COUNTED_REFUND_STATUSES)
        )
    )
    return payment.amount - max(payment.amount_refunded, sum(requested))


async def _already_requested(session: AsyncSession, key: str) -> bool:
    found = await session.scalar(
        select(AuditEntry.id)
        .where(AuditEntry.action == REQUEST_ACTION, AuditEntry.subject_id == key)
        .limit(1)
    )
    return found is not None


def _check_refundable(payment: Payment) -> None:
    if payment.stripe_payment_intent_id is None or payment.status not in _REFUNDABLE:
        raise Conflict(f"payment {payment.id} is {payment.status}: only a succeeded payment can be refunded")


def _check_amount(payment: Payment, amount: int | None, remaining: int) -> None:
    if amount is not None and amount <= 0:
        raise InvalidInput("amount: must be a positive number of minor units", field="amount")
    if remaining <= 0:
        raise InvalidInput(f"payment {payment.id} is already fully refunded", field="amount")
    if amount is not None and amount > remaining:
        left = Money(remaining, payment.currency).format()
        raise InvalidInput(
            f"amount: more than the {left} left to refund", field="amount", remaining=remaining
        )


async def request_refund(
    session: AsyncSession, actions: ProviderActions, request: RefundRequest, *, now: datetime
) -> RequestedRefund:
    """Ask the provider for the refund (flush only; the caller commits)."""
    payment = await session.get(Payment, request.payment_id)
    if payment is None:
        raise NotFound(f"no payment {request.payment_id}")
    key = refund_key(payment.id, request.amount, request.request_key, now)
    replayed = await _already_requested(session, key)
    if not replayed:  # a replay skips the checks: its own refund is what made them fail
        _check_refundable(payment)
        _check_amount(payment, request.amount, await remaining_amount(session, payment))
    assert payment.stripe_payment_intent_id is not None
    refund = await actions.create_refund(
        payment_intent_id=payment.stripe_payment_intent_id,
        amount=request.amount,
        reason=request.reason,
        idempotency_key=key,
    )
    cause = Cause(actor=request.actor)
    await sync_refund(session, refund, cause)
    if not replayed:
        await record(
            session,
            cause,
            action=REQUEST_ACTION,
            subject_type="refund_request",
            subject_id=key,
            changes={"refund": refund.id, "amount": refund.amount, "currency": refund.currency},
            customer_id=payment.customer_id,
            user_id=payment.user_id,
            message=f"refund of {Money(refund.amount, refund.currency).format()} requested for {payment.id}",
        )
    return RequestedRefund(refund, payment, key, replayed)

"""Mirror payments (one per payment intent), refunds and disputes through the state machine."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, apply_changes, record
from billhook.customers.service import ensure_customer
from billhook.customers.views import views_changed
from billhook.db.mirror import SyncResult, find, get_or_create
from billhook.invoices.service import invoice_by_stripe_id
from billhook.models import Dispute, Payment, PaymentStatus, Refund
from billhook.payments.states import next_status
from billhook.providers.base import ProviderCharge, ProviderDispute, ProviderPaymentIntent, ProviderRefund

_FAILED_INTENT = {"canceled"}


def provider_status(intent: ProviderPaymentIntent | None, charge: ProviderCharge | None) -> PaymentStatus:
    """The payment status the provider's current objects describe."""
    succeeded = (intent is not None and intent.status == "succeeded") or (
        charge is not None and charge.status == "succeeded"
    )
    if succeeded:
        amount = charge.amount if charge else intent.amount if intent else 0
        refunded = charge.amount_refunded if charge else 0
        if refunded > 0:
            return PaymentStatus.REFUNDED if refunded >= amount else PaymentStatus.PARTIALLY_REFUNDED
        return PaymentStatus.SUCCEEDED
    if intent is not None:
        attempted_and_failed = (
            intent.status == "requires_payment_method" and intent.failure_message is not None
        )
        if attempted_and_failed or intent.status in _FAILED_INTENT:
            return PaymentStatus.FAILED
        return PaymentStatus.PENDING
    if charge is not None and charge.status == "failed":
        return PaymentStatus.FAILED
    return PaymentStatus.PENDING


def _identity(intent: ProviderPaymentIntent | None, charge: ProviderCharge | None) -> tuple[str, str]:
    if intent is not None:
        return "stripe_payment_intent_id", intent.id
    assert charge is not None, "a payment needs an intent or a charge"
    return "stripe_charge_id", charge.id


async def sync_payment(
    session: AsyncSession,
    intent: ProviderPaymentIntent | None,
    charge: ProviderCharge | None,
    cause: Cause,
    *,
    invoice_stripe_id: str | None = None,
) -> SyncResult[Payment]:
    """Move the payment toward the provider's state, if the state machine allows it."""
    column, key = _identity(intent, charge)
    source = intent or charge
    assert source is not None
    row, created = await get_or_create(
        session,
        Payment,
        key,
        {
            "amount": source.amount,
            "currency": source.currency,
            "status": PaymentStatus.PENDING.value,
            "raw": {},
        },
        column=column,
    )
    current = PaymentStatus(row.status)
    target = provider_status(intent, charge)
    status = next_status(current, target, payment=key)
    if status != target:
        return SyncResult(row, created, {})
    customer_id = (intent.customer_id if intent else None) or (charge.customer_id if charge else None)
    customer = await ensure_customer(session, customer_id) if customer_id else None
    invoice = await invoice_by_stripe_id(session, invoice_stripe_id) if invoice_stripe_id else None
    latest_failure = charge if charge is not None and charge.status == "failed" else None
    values = {
        "status": status.value,
        "customer_id": customer.id if customer else row.customer_id,
        "user_id": row.user_id or (customer.user_id if customer else None),
        "invoice_id": invoice.id if invoice else row.invoice_id,
        "stripe_charge_id": charge.id if charge else row.stripe_charge_id,
        "amount": source.amount,
        "amount_refunded": max(row.amount_refunded, charge.amount_refunded if charge else 0),
        "currency": source.currency,
        "disputed": row.disputed or bool(charge and charge.disputed),
        "description": (intent.description if intent else None) or row.description,
        "failure_code": (latest_failure.failure_code if latest_failure else None)
        or (intent.failure_code if intent and status == PaymentStatus.FAILED else None),
        "failure_message": (latest_failure.failure_message if latest_failure else None)
        or (intent.failure_message if intent and status == PaymentStatus.FAILED else None),
        "raw": source.raw,
    }
    changes = apply_changes(row, values)
    await session.flush()
    if created or changes:
        await record(
            session,
            cause,
            action="payment.synced",
            subject_type="payment",
            subject_id=key,
            changes=changes,
            customer_id=row.customer_id,
            user_id=row.user_id,
        )
        await views_changed(session, row.user_id)
    return SyncResult(row, created, changes)


async def payment_for(session: AsyncSession, intent_id: str | None, charge_id: str | None) -> Payment | None:
    if intent_id:
        found = await find(session, Payment, intent_id, column="stripe_payment_intent_id")
        if found is not None:
            return found
    return await find(session, Payment, charge_id, column="stripe_charge_id") if charge_id else None


ChargeRecord = TypeVar("ChargeRecord", Refund, Dispute)


async def _mirror_beside_payment(
    session: AsyncSession,
    model: type[ChargeRecord],
    source: ProviderRefund | ProviderDispute,
    cause: Cause,
    *,
    subject_type: str,
) -> SyncResult[ChargeRecord]:
    """Mirror a refund or a dispute: the same columns, tied to its payment, audited when changed."""
    payment = await payment_for(session, source.payment_intent_id, source.charge_id)
    row, created = await get_or_create(
        session,
        model,
        source.id,
        {"amount": source.amount, "currency": source.currency, "status": source.status, "raw": {}},
    )
    values = {
        "payment_id": payment.id if payment else row.payment_id,
        "amount": source.amount,
        "currency": source.currency,
        "status": source.status,
        "reason": source.reason,
        "raw": source.raw,
    }
    changes = apply_changes(row, values)
    if subject_type == "dispute" and payment is not None and not payment.disputed:
        payment.disputed = True
        changes["payment_disputed"] = [False, True]
    await session.flush()
    if created or changes:
        await record(
            session,
            cause,
            action=f"{subject_type}.synced",
            subject_type=subject_type,
            subject_id=source.id,
            changes=changes,
            customer_id=payment.customer_id if payment else None,
        )
    return SyncResult(row, created, changes)


async def sync_refund(session: AsyncSession, refund: ProviderRefund, cause: Cause) -> SyncResult[Refund]:
    return await _mirror_beside_payment(session, Refund, refund, cause, subject_type="refund")


async def sync_dispute(session: AsyncSession, dispute: ProviderDispute, cause: Cause) -> SyncResult[Dispute]:
    """Mirror a dispute and mark its payment ``disputed`` (a flag beside the status)."""
    return await _mirror_beside_payment(session, Dispute, dispute, cause, subject_type="dispute")

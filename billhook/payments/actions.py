"""Acting on payments for an operator: retrying a subscription's open invoice, alerting admins.

Split from the queries (``billhook/payments/queries.py``): these change the provider or request
work (``invoice.retry_requested`` audit entries, ``email.send`` jobs); the queries only read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.errors import Conflict, NotFound
from billhook.models import Dispute, Payment, Subscription, User
from billhook.outbox.contracts import SEND_EMAIL, SendEmail
from billhook.providers.actions import ProviderActions
from billhook.providers.base import PaymentProvider


@dataclass(frozen=True, slots=True)
class RetriedInvoice:
    subscription_id: str
    invoice_id: str
    status: str | None
    amount_due: int
    currency: str
    already_paid: bool


async def retry_subscription_payment(
    session: AsyncSession, provider: PaymentProvider, actions: ProviderActions, subscription_id: str
) -> RetriedInvoice:
    """Pay the subscription's open invoice now with the saved card (``billhook payments retry``).

    The key ``retry:<invoice>:<attempt count>`` makes a repeated command one attempt; an invoice
    already paid is reported, not charged again.
    """
    row = await session.scalar(
        select(Subscription).where(
            or_(Subscription.stripe_id == subscription_id, Subscription.id == subscription_id)
        )
    )
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    current = await provider.get_subscription(row.stripe_id)
    if not current.latest_invoice_id:
        raise Conflict(f"subscription {row.stripe_id} has no invoice to pay")
    invoice = await provider.get_invoice(current.latest_invoice_id)
    if invoice.status == "paid":
        return RetriedInvoice(
            row.stripe_id, invoice.id, invoice.status, invoice.amount_due, invoice.currency, True
        )
    if invoice.status != "open":
        raise Conflict(f"invoice {invoice.id} is {invoice.status}: only an open invoice can be paid")
    paid = await actions.pay_invoice(
        invoice_id=invoice.id, idempotency_key=f"retry:{invoice.id}:{invoice.attempt_count}"
    )
    await record(
        session,
        Cause(actor="cli", event_type="invoice.retry_requested"),
        action="invoice.retry_requested",
        subject_type="invoice",
        subject_id=invoice.id,
        changes={"status": [invoice.status, paid.status]},
        user_id=row.user_id,
    )
    return RetriedInvoice(row.stripe_id, paid.id, paid.status, paid.amount_due, paid.currency, False)


DISPUTE_TEMPLATE = "dispute_opened"  # needs notifications/templates/dispute_opened.{html,txt}


async def alert_admins_of_dispute(
    session: AsyncSession, dispute: Dispute, payment: Payment | None, *, alert_email: str | None = None
) -> int:
    """Queue one ``email.send`` per active admin, and to ``alert_email`` (``BILLHOOK_ALERT_EMAIL``),
    about a new dispute; returns how many were new. The alert address is told even when there
    is no admin yet (a dispute must never go unnoticed: the response window is days).

    Keyed ``email:dispute_opened:<admin>:<dispute id>``, so a redelivered
    ``charge.dispute.created`` alerts nobody twice. Meant to be called by the inbox's dispute
    handler after ``sync_dispute`` when the dispute row was created.
    """
    admins = await session.scalars(
        select(User.email).where(User.role == "admin", User.is_active.is_(True)).order_by(User.email)
    )
    context = {
        "dispute_id": dispute.stripe_id,
        "payment_id": payment.id if payment else None,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "status": dispute.status,
    }
    recipients = list(admins.all())
    if alert_email and alert_email.lower() not in {email.lower() for email in recipients}:
        recipients.append(alert_email)
    queued = 0
    for email in recipients:
        payload = SendEmail(
            template=DISPUTE_TEMPLATE, to=email, context=context, key_object=dispute.stripe_id
        )
        queued += await SEND_EMAIL.enqueue(
            session, payload, key=f"email:{DISPUTE_TEMPLATE}:{email}:{dispute.stripe_id}"
        )
    return queued

"""Mirror provider invoices, linked to their customer and subscription rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, apply_changes, record
from billhook.customers.service import ensure_customer
from billhook.customers.views import views_changed
from billhook.db.mirror import SyncResult, find, get_or_create
from billhook.models import Invoice, Subscription
from billhook.providers.base import ProviderInvoice


async def sync_invoice(session: AsyncSession, invoice: ProviderInvoice, cause: Cause) -> SyncResult[Invoice]:
    """Make the mirror equal the provider's invoice; audit what changed."""
    customer = await ensure_customer(session, invoice.customer_id) if invoice.customer_id else None
    subscription = (
        await find(session, Subscription, invoice.subscription_id) if invoice.subscription_id else None
    )
    row, created = await get_or_create(
        session, Invoice, invoice.id, {"currency": invoice.currency, "raw": {}}
    )
    values = {
        "customer_id": customer.id if customer else None,
        "subscription_id": subscription.id if subscription else row.subscription_id,
        "number": invoice.number,
        "status": invoice.status,
        "billing_reason": invoice.billing_reason,
        "currency": invoice.currency,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "amount_remaining": invoice.amount_remaining,
        "attempt_count": invoice.attempt_count,
        "next_payment_attempt": invoice.next_payment_attempt,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "paid_at": invoice.paid_at,
        "hosted_invoice_url": invoice.hosted_invoice_url,
        "raw": invoice.raw,
    }
    changes = apply_changes(row, values)
    await session.flush()
    if created or changes:
        await record(
            session,
            cause,
            action="invoice.synced",
            subject_type="invoice",
            subject_id=invoice.id,
            changes=changes,
            customer_id=customer.id if customer else None,
        )
        # The overview shows the upcoming invoice, and an invoice's outcome moves its subscription.
        await views_changed(session, customer.user_id if customer else None)
    return SyncResult(row, created, changes)


async def invoice_by_stripe_id(session: AsyncSession, stripe_id: str) -> Invoice | None:
    return await find(session, Invoice, stripe_id)

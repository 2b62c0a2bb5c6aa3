"""Mirror the outcome of Checkout Sessions (completed, paid later, failed, expired).

The checkout domain creates the row when it opens a session; this only records what the
provider says happened to it, creating the row if the session was opened elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, apply_changes, record
from billhook.customers.service import ensure_customer
from billhook.db.mirror import SyncResult, get_or_create
from billhook.models import CheckoutSession
from billhook.providers.base import ProviderCheckoutSession


async def sync_checkout_session(
    session: AsyncSession, checkout: ProviderCheckoutSession, cause: Cause, *, now: datetime
) -> SyncResult[CheckoutSession]:
    customer = await ensure_customer(session, checkout.customer_id) if checkout.customer_id else None
    row, created = await get_or_create(
        session, CheckoutSession, checkout.id, {"mode": checkout.mode, "quantity": 1, "raw": {}}
    )
    first = checkout.line_items[0] if checkout.line_items else None
    values = {
        "customer_id": customer.id if customer else row.customer_id,
        "user_id": row.user_id or (customer.user_id if customer else None),
        "mode": checkout.mode,
        "status": checkout.status or row.status,
        "payment_status": checkout.payment_status,
        "amount_total": checkout.amount_total,
        "currency": checkout.currency,
        "expires_at": checkout.expires_at,
        "price_stripe_id": row.price_stripe_id or (first.price_id if first else None),
        "quantity": first.quantity if first else row.quantity,
        "completed_at": row.completed_at or (now if checkout.status == "complete" else None),
        "raw": checkout.raw,
    }
    changes = apply_changes(row, values)
    await session.flush()
    if created or changes:
        await record(
            session,
            cause,
            action="checkout_session.synced",
            subject_type="checkout_session",
            subject_id=checkout.id,
            changes=changes,
            customer_id=customer.id if customer else None,
            user_id=row.user_id,
        )
    return SyncResult(row, created, changes)

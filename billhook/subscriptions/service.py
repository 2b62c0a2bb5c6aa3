"""Mirror provider subscriptions. The state applied is always the provider's current object."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, apply_changes, record
from billhook.customers.service import ensure_customer
from billhook.customers.views import views_changed
from billhook.db.mirror import SyncResult, find, get_or_create, transaction_memo
from billhook.models import Product, Subscription
from billhook.providers.base import ProviderSubscription
from billhook.subscriptions import mrr

# Columns whose change matters to access (roles, entitlements).
ACCESS_COLUMNS = frozenset({"status", "price_stripe_id", "product_id", "quantity", "current_period_end"})
_PRODUCT_ID = select(Product.id).where(Product.stripe_id == bindparam("stripe_id"))
_APPLIED = "billhook.subscriptions.applied"  # provider objects this transaction applied, by id


async def _catalog_product(session: AsyncSession, stripe_product_id: str | None) -> str | None:
    if not stripe_product_id:
        return None
    product = await session.scalar(_PRODUCT_ID, {"stripe_id": stripe_product_id})
    return product or stripe_product_id


async def sync_subscription(
    session: AsyncSession, subscription: ProviderSubscription, cause: Cause
) -> SyncResult[Subscription]:
    """Make the mirror equal the provider's subscription; audit what changed."""
    customer = await ensure_customer(session, subscription.customer_id)
    row, created = await get_or_create(
        session, Subscription, subscription.id, {"status": subscription.status, "quantity": 1, "raw": {}}
    )
    applied = transaction_memo(session, _APPLIED)
    again = applied.get(subscription.id) if applied is not None else None
    if again is not None and again[0] is not subscription:
        again = None
    item = subscription.first_item
    product_id = again[1] if again else await _catalog_product(session, item.product_id if item else None)
    values = {
        "customer_id": customer.id,
        "user_id": row.user_id or customer.user_id,
        "product_id": product_id,
        "price_stripe_id": item.price_id if item else None,
        "quantity": item.quantity if item else 1,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "cancel_at": subscription.cancel_at,
        "canceled_at": subscription.canceled_at,
        "ended_at": subscription.ended_at,
        "trial_start": subscription.trial_start,
        "trial_end": subscription.trial_end,
        "latest_invoice_stripe_id": subscription.latest_invoice_id,
        "default_payment_method_stripe_id": subscription.default_payment_method_id,
        "cancellation_reason": subscription.cancellation_reason,
        "raw": subscription.raw,
    }
    changes = apply_changes(row, values)
    if again and not (created or changes):
        # This very object was applied in this transaction already (the inbox applies a group's
        # checkout, subscription and invoice events together, and each syncs the subscription
        # from the one copy fetched for the group): the row still equals it and its ledger fact
        # is recorded, so applying it again would write nothing.
        return SyncResult(row, False, {})
    await session.flush()
    # The MRR ledger moves with the mirror, in this transaction (docs/analytics.md).
    await mrr.record(session, row, subscription, event_id=cause.event_id, event_created=cause.event_created)
    if applied is not None:
        applied[subscription.id] = (subscription, values["product_id"])
    if created or changes:
        await record(
            session,
            cause,
            action="subscription.synced",
            subject_type="subscription",
            subject_id=subscription.id,
            changes=changes,
            customer_id=customer.id,
            user_id=row.user_id,
        )
        await views_changed(session, row.user_id)
    return SyncResult(row, created, changes)


async def subscription_by_stripe_id(session: AsyncSession, stripe_id: str) -> Subscription | None:
    return await find(session, Subscription, stripe_id)

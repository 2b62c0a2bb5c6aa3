"""Mirror provider customers and payment methods. Services flush; the caller commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, apply_changes, record
from billhook.db.mirror import SyncResult, find, get_or_create
from billhook.models import Customer, PaymentMethod, User
from billhook.providers.base import ProviderCustomer, ProviderPaymentMethod


async def ensure_customer(session: AsyncSession, stripe_id: str) -> Customer:
    """The mirror row to link to; a bare row when the customer has not been synced yet."""
    row, _ = await get_or_create(session, Customer, stripe_id, {"deleted": False, "raw": {}})
    return row


async def sync_customer(
    session: AsyncSession, customer: ProviderCustomer, cause: Cause
) -> SyncResult[Customer]:
    """Make the mirror equal the provider's current customer; audit what changed."""
    row, created = await get_or_create(session, Customer, customer.id, {"deleted": False, "raw": {}})
    values = {
        "email": customer.email.lower() if customer.email else row.email,
        "name": customer.name if not customer.deleted else row.name,
        "deleted": customer.deleted,
        "provider_created_at": customer.created or row.provider_created_at,
        "raw": customer.raw,
    }
    changes = apply_changes(row, values)
    await session.flush()
    if created or changes:
        action = "customer.deleted" if customer.deleted and "deleted" in changes else "customer.synced"
        await record(
            session,
            cause,
            action=action,
            subject_type="customer",
            subject_id=customer.id,
            changes=changes,
            customer_id=row.id,
            user_id=row.user_id,
        )
    if "name" in changes and row.name:
        await _name_user(session, row)
    return SyncResult(row, created, changes)


async def _name_user(session: AsyncSession, row: Customer) -> None:
    """A name changed at the provider (the customer edited it in the portal or Checkout, or the
    operator in the dashboard) is the user's name too: emails greet them by it."""
    user = await session.get(User, row.user_id) if row.user_id else None
    if user is not None and user.name != row.name:
        user.name = row.name
        await session.flush()


async def link_user(session: AsyncSession, row: Customer, user_id: str | None, cause: Cause) -> bool:
    """Link a customer to the user who paid (Checkout's ``client_reference_id``), once."""
    if not user_id or row.user_id is not None or await session.get(User, user_id) is None:
        return False
    row.user_id = user_id
    await session.flush()
    await record(
        session,
        cause,
        action="customer.linked",
        subject_type="customer",
        subject_id=row.stripe_id,
        changes={"user_id": [None, user_id]},
        customer_id=row.id,
        user_id=user_id,
    )
    return True


async def sync_payment_method(
    session: AsyncSession, method: ProviderPaymentMethod, cause: Cause, *, default_for: str | None = None
) -> SyncResult[PaymentMethod]:
    """Mirror a payment method as brand, last4 and expiry; detached ones lose their customer."""
    customer = await ensure_customer(session, method.customer_id) if method.customer_id else None
    row, created = await get_or_create(session, PaymentMethod, method.id, {"type": method.type})
    values = {
        "customer_id": customer.id if customer else None,
        "type": method.type,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "is_default": bool(customer)
        and (row.is_default if default_for is None else default_for == method.id),
    }
    changes = apply_changes(row, values)
    await session.flush()
    if created or changes:
        action = "payment_method.detached" if customer is None else "payment_method.synced"
        await record(
            session,
            cause,
            action=action,
            subject_type="payment_method",
            subject_id=method.id,
            changes=changes,
            customer_id=customer.id if customer else None,
        )
    return SyncResult(row, created, changes)


async def customer_by_stripe_id(session: AsyncSession, stripe_id: str) -> Customer | None:
    return await find(session, Customer, stripe_id)


async def payment_methods_of(session: AsyncSession, customer_row_id: str) -> list[PaymentMethod]:
    rows = await session.scalars(
        select(PaymentMethod)
        .where(PaymentMethod.customer_id == customer_row_id)
        .order_by(PaymentMethod.stripe_id)
    )
    return list(rows)

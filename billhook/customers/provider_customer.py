"""The provider customer a user pays as, for every checkout (products and bookings alike)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.customers.repository import customer_of_user, deleted_customer_count
from billhook.customers.service import ensure_customer
from billhook.models import User
from billhook.providers.actions import ProviderActions


async def provider_customer_for(session: AsyncSession, actions: ProviderActions, user: User) -> str:
    """The user's live customer in the mirror, else one found or created at the provider and linked.

    A customer deleted at the provider is never reused. The creation's idempotency key counts the
    user's deleted customers: a retry of one attempt sends the same key, while the first attempt
    after a deletion sends a new one; the old key would replay the deleted customer for as long
    as Stripe keeps keys (https://docs.stripe.com/api/idempotent_requests: at least 24 hours).
    """
    existing = await customer_of_user(session, user.id)
    if existing is not None:
        return existing.stripe_id
    deleted = await deleted_customer_count(session, user.id)
    key = f"customer:{user.id}" if deleted == 0 else f"customer:{user.id}:{deleted}"
    customer_id = await actions.find_or_create_customer(
        email=user.email, user_id=user.id, idempotency_key=key
    )
    row = await ensure_customer(session, customer_id)
    if row.user_id is None:
        row.user_id = user.id
        row.email = row.email or user.email
        await session.flush()
    return customer_id

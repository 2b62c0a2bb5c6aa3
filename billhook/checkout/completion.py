"""The success redirect: verify the token, sync the session from the provider, report status.

The customer may land on the success page before the webhook arrives, so the page syncs at
once through the same domain services the ``checkout.session.completed`` handler calls (customer,
subscription, payment, checkout session, entitlements). Nothing here trusts the redirect itself:
the state applied is the provider's, and a one-time purchase is recorded as paid only when the
provider's amount and currency equal the pending order's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.checkout import repository
from billhook.checkout.service import CACHE_NAMESPACE, CheckoutDeps
from billhook.checkout.success import InvalidSuccessToken, SuccessTokens
from billhook.customers.service import customer_by_stripe_id, link_user, sync_customer
from billhook.db.locks import hold_mirror_of
from billhook.entitlements import entitlements_for, sync_entitlements
from billhook.entitlements.service import grace_period
from billhook.errors import NotFound
from billhook.models import CheckoutSession, Order, User
from billhook.outbox import effects
from billhook.payments import service as payments
from billhook.payments.checkout_sessions import sync_checkout_session
from billhook.providers.base import PaymentProvider, ProviderCheckoutSession
from billhook.subscriptions.management import invalidate_subscription_cache
from billhook.subscriptions.service import sync_subscription


@dataclass(frozen=True, slots=True)
class CheckoutStatus:
    session_id: str
    status: str
    payment_status: str | None
    mode: str
    product_id: str | None
    entitlement_active: bool
    role: str


async def verify_success(deps: CheckoutDeps, session_id: str | None, token: str | None) -> CheckoutSession:
    """The session row the token was issued for; :class:`InvalidSuccessToken` otherwise."""
    claims = SuccessTokens(deps.settings.secret_key).read(token)
    if not session_id:
        raise InvalidSuccessToken("the link names no checkout session")
    row = await repository.checkout_by_stripe_id(deps.session, session_id)
    if row is None or row.user_id != claims.user_id or row.order_id != claims.order_id:
        raise InvalidSuccessToken("this link does not belong to this checkout")
    cached = await deps.cache.get(CACHE_NAMESPACE, session_id)
    if isinstance(cached, dict) and cached.get("token") not in (None, token):
        raise InvalidSuccessToken("this link does not belong to this checkout")
    return row


async def complete_from_redirect(deps: CheckoutDeps, row: CheckoutSession) -> User:
    """Sync the verified session now; returns the user to sign in. Flushes only."""
    user = await deps.session.get(User, row.user_id) if row.user_id else None
    if user is None:
        raise InvalidSuccessToken("the account of this checkout no longer exists")
    cause = Cause(actor=f"user:{user.id}", event_type="checkout.success_redirect")
    checkout = await deps.provider.get_checkout_session(row.stripe_id)
    await sync_from_provider(deps.session, deps.provider, checkout, cause)
    synced = await sync_checkout_session(deps.session, checkout, cause, now=deps.clock.now())
    if checkout.mode == "payment" and checkout.payment_status == "paid":
        await _record_paid_if_matching(deps.session, synced.row, checkout, cause)
    await sync_entitlements(
        deps.session, user.id, now=deps.clock.now(), grace=grace_period(deps.settings),
        cause_event_type=cause.event_type,
    )  # fmt: skip
    await deps.cache.delete(CACHE_NAMESPACE, row.stripe_id)
    await invalidate_subscription_cache(deps.cache, user.id)
    return user


async def sync_from_provider(
    session: AsyncSession, provider: PaymentProvider, checkout: ProviderCheckoutSession, cause: Cause
) -> None:
    """The mirror services the webhook handler calls, in the same order."""
    if checkout.customer_id:  # held until commit, as the inbox worker holds it (no older copy wins)
        await hold_mirror_of(session, checkout.customer_id)
        synced = await sync_customer(session, await provider.get_customer(checkout.customer_id), cause)
        await link_user(session, synced.row, checkout.client_reference_id, cause)
    if checkout.subscription_id:
        subscription = await provider.get_subscription(checkout.subscription_id)
        result = await sync_subscription(session, subscription, cause)
        customer = await customer_by_stripe_id(session, subscription.customer_id)
        await effects.sync_entitlements(session, result.row, customer)
    if checkout.payment_intent_id:
        intent = await provider.get_payment_intent(checkout.payment_intent_id)
        charge = await provider.get_charge(intent.latest_charge_id) if intent.latest_charge_id else None
        await payments.sync_payment(session, intent, charge, cause)


async def _record_paid_if_matching(
    session: AsyncSession, row: CheckoutSession, checkout: ProviderCheckoutSession, cause: Cause
) -> None:
    order = await session.get(Order, row.order_id) if row.order_id else None
    if order is None:
        return
    paid = (checkout.amount_total, (checkout.currency or "").lower())
    if paid == (order.amount_total, order.currency.lower()):
        await effects.record_checkout_paid(session, checkout)
        return
    await record(
        session,
        cause,
        action="order.amount_mismatch",
        subject_type="order",
        subject_id=order.id,
        user_id=order.user_id,
        message=f"paid {paid[0]} {paid[1]} but the order is {order.amount_total} {order.currency}",
    )


async def checkout_status(deps: CheckoutDeps, user: User, session_id: str) -> CheckoutStatus:
    """What the success page polls; another user's session is 404 (no probing of ids)."""
    row = await repository.checkout_by_stripe_id(deps.session, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("no such checkout session")
    result = await entitlements_for(
        deps.session, user, now=deps.clock.now(), grace=grace_period(deps.settings)
    )
    active = any(r.granted and r.product_id == row.product_id for r in result.reasons)
    return CheckoutStatus(
        session_id=row.stripe_id,
        status=row.status,
        payment_status=row.payment_status,
        mode=row.mode,
        product_id=row.product_id,
        entitlement_active=active,
        role=user.role,
    )

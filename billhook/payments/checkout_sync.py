"""Apply a provider Checkout Session to the mirror: the one path for the webhook and the redirect.

The ``checkout.session.*`` handler (``billhook/inbox/handlers/checkout.py``) and the success
redirect (:func:`complete_from_redirect`) both call :func:`apply_checkout_session`, so a fix made
here holds for both. The steps, in order, each reading the provider's *current* objects:

1. customer: hold its mirror until commit (so an older copy fetched elsewhere never wins), sync
   it, link it to the paying user (Checkout's ``client_reference_id``) and, for a completed
   checkout by an email without an account, request the provisioning job;
2. subscription: sync it and request an entitlements sync when access may have changed;
3. payment: a booking checkout's PENDING payment adopts the intent, then the intent and its
   charge are mirrored;
4. the checkout session row;
5. a paid one-time checkout requests ``order.record_paid``, but only when the provider's amount
   and currency equal the pending order's (the amount guard); a mismatch is audited instead.

A step is a function of :class:`CheckoutSync`; a new one goes into :data:`STEPS`. Services flush;
the caller (the inbox worker, the success page's request) commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause, record
from billhook.bookings.checkout import attach_checkout_payment, expire_checkout_payment
from billhook.checkout.service import CACHE_NAMESPACE, CheckoutDeps
from billhook.checkout.success import InvalidSuccessToken
from billhook.customers.service import customer_by_stripe_id, link_user, sync_customer
from billhook.db.locks import hold_mirror_of
from billhook.db.mirror import SyncResult
from billhook.entitlements import sync_entitlements
from billhook.entitlements.service import grace_period
from billhook.models import CheckoutSession, Order, User
from billhook.models.object_versions import record_applied
from billhook.outbox import effects
from billhook.payments import service as payments
from billhook.payments.checkout_sessions import sync_checkout_session
from billhook.providers.base import PaymentProvider, ProviderCheckoutSession
from billhook.subscriptions.overview import invalidate_subscription_cache
from billhook.subscriptions.service import ACCESS_COLUMNS, sync_subscription


@dataclass
class CheckoutSync:
    """One application of a checkout session: its inputs, and the row once step 4 wrote it."""

    session: AsyncSession
    provider: PaymentProvider
    checkout: ProviderCheckoutSession
    cause: Cause
    now: datetime
    result: SyncResult[CheckoutSession] | None = None


Step = Callable[[CheckoutSync], Awaitable[None]]


async def sync_checkout_customer(sync: CheckoutSync) -> None:
    checkout, session = sync.checkout, sync.session
    if not checkout.customer_id:
        return
    await hold_mirror_of(session, checkout.customer_id)
    customer = await sync.provider.get_customer(checkout.customer_id)
    synced = await sync_customer(session, customer, sync.cause)
    await link_user(session, synced.row, checkout.client_reference_id, sync.cause)
    if synced.row.user_id is None and checkout.status == "complete":
        # A checkout by an email with no account: create it (once) in a job.
        await effects.provision_customer(session, synced.row, checkout.customer_email, sync.cause.event_id)


async def sync_checkout_subscription(sync: CheckoutSync) -> None:
    if not sync.checkout.subscription_id:
        return
    subscription = await sync.provider.get_subscription(sync.checkout.subscription_id)
    result = await sync_subscription(sync.session, subscription, sync.cause)
    if result.created or ACCESS_COLUMNS & result.changes.keys() or "user_id" in result.changes:
        customer = await customer_by_stripe_id(sync.session, subscription.customer_id)
        await effects.sync_entitlements(sync.session, result.row, customer)


async def sync_checkout_payment(sync: CheckoutSync) -> None:
    intent_id = sync.checkout.payment_intent_id
    if not intent_id:
        return
    # A booking checkout wrote a PENDING payment before Stripe made the intent: adopt it.
    await attach_checkout_payment(sync.session, sync.checkout.id, intent_id)
    intent = await sync.provider.get_payment_intent(intent_id)
    charge = await sync.provider.get_charge(intent.latest_charge_id) if intent.latest_charge_id else None
    await payments.sync_payment(sync.session, intent, charge, sync.cause)


async def fail_abandoned_payment(sync: CheckoutSync) -> None:
    """An expired checkout's PENDING record (a booking's) fails as ``checkout_expired``."""
    if sync.checkout.status == "expired":
        await expire_checkout_payment(sync.session, sync.checkout.id)


async def sync_checkout_row(sync: CheckoutSync) -> None:
    sync.result = await sync_checkout_session(sync.session, sync.checkout, sync.cause, now=sync.now)


async def record_paid_checkout(sync: CheckoutSync) -> None:
    """The amount guard: a one-time purchase counts as paid only for the order's own amount.

    A checkout Billhook opened for an order carries that order; the provider's ``amount_total``
    and ``currency`` must equal it, else the mismatch is audited and nothing is recorded. A
    checkout opened elsewhere has no order here: ``order.record_paid`` builds one from its lines.
    """
    checkout = sync.checkout
    if checkout.mode != "payment" or checkout.payment_status != "paid":
        return
    assert sync.result is not None, "the checkout row is synced before the order is recorded"
    row = sync.result.row
    order = await sync.session.get(Order, row.order_id) if row.order_id else None
    paid = (checkout.amount_total, (checkout.currency or "").lower())
    if order is None or paid == (order.amount_total, order.currency.lower()):
        await effects.record_checkout_paid(sync.session, checkout)
        return
    await record(
        sync.session,
        sync.cause,
        action="order.amount_mismatch",
        subject_type="order",
        subject_id=order.id,
        user_id=order.user_id,
        message=f"paid {paid[0]} {paid[1]} but the order is {order.amount_total} {order.currency}",
    )


STEPS: tuple[Step, ...] = (
    sync_checkout_customer,
    sync_checkout_subscription,
    sync_checkout_payment,
    fail_abandoned_payment,
    sync_checkout_row,
    record_paid_checkout,
)


async def apply_checkout_session(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout: ProviderCheckoutSession,
    cause: Cause,
    *,
    now: datetime,
) -> SyncResult[CheckoutSession]:
    """Every step of :data:`STEPS`, in order; returns the checkout session's row. Flushes only."""
    sync = CheckoutSync(session, provider, checkout, cause, now)
    for step in STEPS:
        await step(sync)
    assert sync.result is not None
    return sync.result


async def complete_from_redirect(deps: CheckoutDeps, row: CheckoutSession) -> User:
    """The success page: apply the verified session now and grant access at once.

    The customer may land here before the webhook arrives; the state applied is the provider's,
    never the redirect's. Returns the user to sign in. Flushes only.
    """
    user = await deps.session.get(User, row.user_id) if row.user_id else None
    if user is None:
        raise InvalidSuccessToken("the account of this checkout no longer exists")
    cause = Cause(actor=f"user:{user.id}", event_type="checkout.success_redirect")
    checkout = await deps.provider.get_checkout_session(row.stripe_id)
    await apply_checkout_session(deps.session, deps.provider, checkout, cause, now=deps.clock.now())
    await record_applied(
        deps.session, ("customer", checkout.customer_id), ("subscription", checkout.subscription_id)
    )
    await sync_entitlements(
        deps.session, user.id, now=deps.clock.now(), grace=grace_period(deps.settings),
        cause_event_type=cause.event_type,
    )  # fmt: skip
    await deps.cache.delete(CACHE_NAMESPACE, row.stripe_id)
    await invalidate_subscription_cache(deps.cache, user.id)
    return user

"""Paying for a booking through hosted Checkout, and tying the provider's payment to our record.

:func:`start_booking_checkout` opens a ``payment``-mode Checkout Session with metadata
``booking_id`` and ``user_id`` (what ``orders.paid_events`` needs to record a BOOKING order whose
fulfilment confirms the booking) and writes a PENDING payment record carrying the session id.
The session stays open ``BILLHOOK_BOOKING_CHECKOUT_MINUTES`` (30 by default, not Stripe's 24
hours), so an unpaid booking does not hold its slot for a day; when it expires,
:func:`expire_checkout_payment` fails the record, the slot is free for others
(:mod:`billhook.bookings.slots`) and the booking can be paid again if nobody took its time.
The session's price is the catalog price when the booking costs what the catalog says, else a
provider price for exactly that amount under the lookup key ``booking:<product>:<cur>:<amount>``
(reused by every booking at that rate; not ``billhook:`` so catalog sync leaves it alone).

Stripe creates the PaymentIntent only when the customer pays, so the PENDING record cannot name
it yet. :func:`attach_checkout_payment` does, when ``checkout.session.completed`` arrives: it
stamps the intent on the record, or — if ``payment_intent.*`` came first and the mirror already
made a row for the intent — folds that row into ours, so one payment exists per checkout whatever
the order of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.accounts.errors import Forbidden
from billhook.audit import Cause, record
from billhook.bookings import repository
from billhook.bookings.service import visible_booking
from billhook.bookings.slots import CHECKOUT_EXPIRED, Hold, checkout_expiry_record, refuse_taken
from billhook.checkout.service import check_redirect, open_provider_checkout
from billhook.config import Settings
from billhook.customers.provider_customer import provider_customer_for
from billhook.customers.views import views_changed
from billhook.errors import Conflict, InvalidInput
from billhook.kit.clock import Clock
from billhook.models import Booking, BookingStatus, Dispute, Payment, PaymentStatus, Product, Refund, User
from billhook.providers.actions import CheckoutRequest, PriceSpec, ProviderActions
from billhook.providers.base import PaymentProvider

SUCCESS_PATH = "/payment/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_PATH = "/payment/cancel"


@dataclass(frozen=True, slots=True)
class BookingCheckout:
    session_id: str
    url: str
    payment_id: str
    amount: int
    currency: str
    reused: bool
    expires_at: datetime | None = None


@dataclass
class BookingCheckoutDeps:
    session: AsyncSession
    actions: ProviderActions
    provider: PaymentProvider
    settings: Settings
    clock: Clock


def hold_window(settings: Settings) -> timedelta:
    """How long an open booking checkout lasts, and so how long an unpaid booking holds its time."""
    return timedelta(minutes=settings.billhook_booking_checkout_minutes)


async def start_booking_checkout(
    deps: BookingCheckoutDeps,
    payer: User,
    booking_id: str,
    *,
    success_url: str | None = None,
    cancel_url: str | None = None,
) -> BookingCheckout:
    """Only the booking's client or an admin pays: the coach gets 403, anyone else 404."""
    booking = await visible_booking(deps.session, payer, booking_id, lock=True)
    if payer.role != "admin" and payer.id != booking.client_id:
        raise Forbidden("only the booking's client or an admin can pay for it")
    success = check_redirect(success_url, "success_url", deps.settings)
    cancel = check_redirect(cancel_url, "cancel_url", deps.settings)
    open_payment = await _refuse_paid(deps.session, booking)
    if open_payment is not None:
        reused = await _reuse(deps, open_payment)
        if reused is not None:
            return reused
    # Its earlier checkouts may have ended unpaid, releasing the time to others (bookings.slots).
    hold = Hold(deps.clock.now(), hold_window(deps.settings))
    await refuse_taken(deps.session, deps.provider, booking, hold=hold)
    client = await repository.user(deps.session, booking.client_id)
    assert client is not None
    customer_id = await provider_customer_for(deps.session, deps.actions, client)
    price_id = await _price_for(deps, booking)
    payment = await _pending_payment(deps.session, booking, client)
    base = deps.settings.billhook_base_url
    created = await open_provider_checkout(
        deps.actions,
        CheckoutRequest(
            mode="payment",
            price_id=price_id,
            success_url=success or f"{base}{SUCCESS_PATH}",
            cancel_url=cancel or f"{base}{CANCEL_PATH}",
            idempotency_key=f"booking-checkout:{booking.id}:{payment.id}",
            customer_id=customer_id,
            client_reference_id=client.id,
            metadata={"booking_id": booking.id, "user_id": client.id, "payment_id": payment.id},
            expires_after=hold_window(deps.settings),
        ),
    )
    payment.checkout_session_stripe_id = created.id
    payment.raw = {"checkout_url": created.url, **checkout_expiry_record(created.expires_at)}
    await deps.session.flush()
    await record(
        deps.session,
        Cause(actor=f"user:{payer.id}"),
        action="booking.checkout_started",
        subject_type="booking",
        subject_id=booking.id,
        changes={"payment": payment.id, "checkout_session": created.id},
        user_id=client.id,
    )
    return BookingCheckout(
        created.id, created.url, payment.id, booking.amount, booking.currency, False, created.expires_at
    )


async def _pending_payment(session: AsyncSession, booking: Booking, client: User) -> Payment:
    """The record the response names; the provider's intent is attached when checkout completes."""
    payment = Payment(
        user_id=client.id,
        booking_id=booking.id,
        amount=booking.amount,
        currency=booking.currency,
        status=PaymentStatus.PENDING,
        description=f"Coaching session {booking.id}",
        raw={},
    )
    session.add(payment)
    await session.flush()
    return payment


async def _refuse_paid(session: AsyncSession, booking: Booking) -> Payment | None:
    """409 unless the booking can still be paid; returns its newest unpaid record, if any."""
    if booking.status != BookingStatus.PENDING:
        raise Conflict(f"booking {booking.id} is {booking.status}: only a PENDING booking can be paid")
    payments = await repository.payments_of(session, booking.id)
    if any(p.status in repository.PAID for p in payments):
        raise Conflict(f"booking {booking.id} is already paid")
    pending = [p for p in payments if p.status == PaymentStatus.PENDING and p.checkout_session_stripe_id]
    return pending[-1] if pending else None


async def _reuse(deps: BookingCheckoutDeps, payment: Payment) -> BookingCheckout | None:
    """The still-open session of an earlier attempt: a second click must not open a second one."""
    assert payment.checkout_session_stripe_id is not None
    current = await deps.provider.get_checkout_session(payment.checkout_session_stripe_id)
    url = (payment.raw or {}).get("checkout_url")
    if current.status != "open" or not url:
        return None
    return BookingCheckout(
        current.id, str(url), payment.id, payment.amount, payment.currency, True, current.expires_at
    )


async def _price_for(deps: BookingCheckoutDeps, booking: Booking) -> str:
    product = await repository.booking_product(deps.session)
    if product is None or not product.stripe_id:
        raise InvalidInput("bookings are not on sale yet: run 'billhook products sync'", field="booking_id")
    for price in await repository.active_prices(deps.session, product.id):
        if price.currency == booking.currency and price.unit_amount == booking.amount and price.stripe_id:
            return price.stripe_id
    return await _custom_price(deps.actions, product, booking)


async def _custom_price(actions: ProviderActions, product: Product, booking: Booking) -> str:
    assert product.stripe_id is not None
    key = f"booking:{product.id}:{booking.currency}:{booking.amount}"
    for price in await actions.list_prices():
        if price.lookup_key == key and price.active:
            return price.id
    spec = PriceSpec(product.stripe_id, booking.currency, booking.amount, key)
    return (await actions.create_price(spec, idempotency_key=f"price:{key}")).id


async def attach_checkout_payment(
    session: AsyncSession, checkout_stripe_id: str, intent_id: str
) -> Payment | None:
    """Give the checkout's PENDING record its intent, folding in a row the mirror made for it."""
    ours = await repository.pending_checkout_payment(session, checkout_stripe_id)
    if ours is None:
        return None
    mirrored = await repository.payment_by_intent(session, intent_id)
    if mirrored is not None and mirrored.id != ours.id:
        await _fold(session, mirrored, into=ours)
    ours.stripe_payment_intent_id = intent_id
    await session.flush()
    return ours


async def expire_checkout_payment(session: AsyncSession, checkout_stripe_id: str) -> Payment | None:
    """An abandoned checkout (``checkout.session.expired``): its PENDING record fails, saying so,
    so the attempt is counted; the booking stays PENDING and a new checkout can pay it."""
    ours = await repository.pending_checkout_payment(session, checkout_stripe_id)
    if ours is None or ours.status != PaymentStatus.PENDING:
        return None
    ours.status = PaymentStatus.FAILED
    ours.failure_code = CHECKOUT_EXPIRED
    ours.failure_message = "The checkout expired before it was paid."
    await session.flush()
    await views_changed(session, ours.user_id)
    return ours


async def attach_intent_payment(session: AsyncSession, payment_id: str, intent_id: str) -> Payment | None:
    """The same for an intent that names its PENDING record (``metadata.payment_id``) before any
    checkout event: a declined attempt on the hosted page fails that record, not a new one."""
    ours = await session.get(Payment, payment_id)
    if ours is None or ours.stripe_payment_intent_id not in (None, intent_id):
        return None
    mirrored = await repository.payment_by_intent(session, intent_id)
    if mirrored is not None and mirrored.id != ours.id:
        await _fold(session, mirrored, into=ours)
    ours.stripe_payment_intent_id = intent_id
    await session.flush()
    return ours


_MIRRORED = (
    "status", "customer_id", "invoice_id", "stripe_charge_id", "amount", "amount_refunded",
    "currency", "disputed", "failure_code", "failure_message", "raw", "order_id",
)  # fmt: skip


async def _fold(session: AsyncSession, mirrored: Payment, *, into: Payment) -> None:
    values = {name: getattr(mirrored, name) for name in _MIRRORED}
    values["user_id"] = into.user_id or mirrored.user_id
    values["raw"] = {**(into.raw or {}), **(mirrored.raw or {})}
    await session.execute(update(Refund).where(Refund.payment_id == mirrored.id).values(payment_id=into.id))
    await session.execute(update(Dispute).where(Dispute.payment_id == mirrored.id).values(payment_id=into.id))
    await session.delete(mirrored)
    await session.flush()  # the intent and charge ids are unique: free them before taking them
    for name, value in values.items():
        setattr(into, name, value)

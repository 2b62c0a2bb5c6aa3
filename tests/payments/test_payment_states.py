"""The payment state machine, alone and through ``sync_payment`` on both databases."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.audit import Cause
from billhook.models import Payment, PaymentStatus
from billhook.payments.service import provider_status, sync_payment
from billhook.payments.states import next_status, reachable
from billhook.providers.base import ProviderCharge, ProviderPaymentIntent

P = PaymentStatus
ALLOWED = {
    (P.PENDING, P.SUCCEEDED),
    (P.PENDING, P.FAILED),
    (P.FAILED, P.SUCCEEDED),
    (P.SUCCEEDED, P.PARTIALLY_REFUNDED),
    (P.SUCCEEDED, P.REFUNDED),
    (P.PARTIALLY_REFUNDED, P.REFUNDED),
}
# Allowed through a missed intermediate step (each hop is in ALLOWED).
SKIPPING = {
    (P.PENDING, P.PARTIALLY_REFUNDED),
    (P.PENDING, P.REFUNDED),
    (P.FAILED, P.PARTIALLY_REFUNDED),
    (P.FAILED, P.REFUNDED),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.permutations(P, 2)))
def test_every_pair_of_states(current: PaymentStatus, target: PaymentStatus) -> None:
    allowed = (current, target) in ALLOWED | SKIPPING
    assert reachable(current, target) is allowed
    assert next_status(current, target, payment="pi_1") == (target if allowed else current)


@pytest.mark.parametrize("status", list(P))
def test_staying_put_is_always_allowed(status: PaymentStatus) -> None:
    assert next_status(status, status, payment="pi_1") == status


def intent(status: str, *, failed: bool = False, amount: int = 1000) -> ProviderPaymentIntent:
    return ProviderPaymentIntent(
        id="pi_1",
        customer_id=None,
        amount=amount,
        currency="usd",
        status=status,
        amount_received=amount if status == "succeeded" else 0,
        latest_charge_id="ch_1" if status != "requires_payment_method" or failed else None,
        failure_message="Your card was declined." if failed else None,
    )


def charge(status: str, *, refunded: int = 0, charge_id: str = "ch_1") -> ProviderCharge:
    return ProviderCharge(
        id=charge_id,
        payment_intent_id="pi_1",
        customer_id=None,
        amount=1000,
        currency="usd",
        status=status,
        amount_refunded=refunded,
        refunded=refunded >= 1000,
        failure_code="card_declined" if status == "failed" else None,
        failure_message="Your card was declined." if status == "failed" else None,
    )


def test_provider_status_reads_the_current_objects() -> None:
    assert provider_status(intent("requires_payment_method"), None) is P.PENDING
    assert provider_status(intent("processing"), None) is P.PENDING
    assert provider_status(intent("requires_payment_method", failed=True), charge("failed")) is P.FAILED
    assert provider_status(intent("canceled"), None) is P.FAILED
    assert provider_status(intent("succeeded"), charge("succeeded")) is P.SUCCEEDED
    assert provider_status(intent("succeeded"), charge("succeeded", refunded=300)) is P.PARTIALLY_REFUNDED
    assert provider_status(intent("succeeded"), charge("succeeded", refunded=1000)) is P.REFUNDED
    assert provider_status(None, charge("failed")) is P.FAILED


CAUSE = Cause(event_id="evt_test", event_type="test")


async def apply(
    factory: async_sessionmaker[AsyncSession], pi: ProviderPaymentIntent, ch: ProviderCharge | None
) -> Payment:
    async with factory() as session:
        result = await sync_payment(session, pi, ch, CAUSE)
        await session.commit()
        return result.row


async def test_failed_then_succeeded_on_a_later_attempt(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    failed = await apply(session_factory, intent("requires_payment_method", failed=True), charge("failed"))
    assert (failed.status, failed.failure_code) == ("FAILED", "card_declined")
    paid = await apply(session_factory, intent("succeeded"), charge("succeeded", charge_id="ch_2"))
    assert (paid.status, paid.stripe_charge_id, paid.failure_code) == ("SUCCEEDED", "ch_2", None)


async def test_refunds_move_forward_and_never_back(session_factory: async_sessionmaker[AsyncSession]) -> None:
    await apply(session_factory, intent("succeeded"), charge("succeeded"))
    partial = await apply(session_factory, intent("succeeded"), charge("succeeded", refunded=300))
    assert (partial.status, partial.amount_refunded) == ("PARTIALLY_REFUNDED", 300)
    full = await apply(session_factory, intent("succeeded"), charge("succeeded", refunded=1000))
    assert (full.status, full.amount_refunded) == ("REFUNDED", 1000)
    # A late, older view (before the refunds) is refused: the payment stays refunded.
    late = await apply(session_factory, intent("succeeded"), charge("succeeded"))
    assert (late.status, late.amount_refunded) == ("REFUNDED", 1000)


async def test_a_late_older_event_cannot_undo_a_success(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, intent("succeeded"), charge("succeeded"))
    for stale in (intent("requires_payment_method"), intent("processing")):
        assert (await apply(session_factory, stale, None)).status == "SUCCEEDED"
    failed_view = await apply(
        session_factory, intent("requires_payment_method", failed=True), charge("failed")
    )
    assert failed_view.status == "SUCCEEDED"


async def test_a_missed_success_is_still_reached_from_pending(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await apply(session_factory, intent("processing"), None)
    refunded = await apply(session_factory, intent("succeeded"), charge("succeeded", refunded=1000))
    assert refunded.status == "REFUNDED"

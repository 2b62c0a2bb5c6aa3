from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billhook.fulfilment.hooks import CustomFulfilment
from billhook.fulfilment.registrars import add_years
from billhook.fulfilment.requests import FulfilmentJob, fulfilment_key
from billhook.models import (
    Booking,
    BookingStatus,
    DomainRegistration,
    FulfilmentRecord,
    JobStatus,
    OrderItem,
    OrderType,
    OutboxJob,
    PlanTerm,
    Subscription,
)
from billhook.orders.schemas import OrderItemInput
from billhook.orders.service import record_paid_order
from billhook.outbox import enqueue
from tests.support.fulfilment import Outbox, add_booking, add_user, build_outbox, jobs

CONTACTS = {"email": "owner@example.com"}
HOST_CALLS: list[CustomFulfilment] = []


async def issue_license_key(request: CustomFulfilment) -> None:
    """A host application's fulfilment function, reached through an installed entry point."""
    HOST_CALLS.append(request)


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[Outbox]:
    outbox = build_outbox(database_url)
    yield outbox
    await outbox.runtime.aclose()


async def _buy(outbox: Outbox, order_type: str, items: list[OrderItemInput], **extra: object) -> str:
    async with outbox.runtime.session_factory() as session:
        user = await add_user(session, f"buyer-{len(outbox.emails)}-{order_type}@example.com", "Ada")
        order = await record_paid_order(
            session, order_type=order_type, user_id=user.id, customer_id=None,
            amount_total=sum(item.unit_amount for item in items), currency="eur", items=items,
            **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        await session.commit()
    await outbox.drain()
    return order.id


async def _registration(outbox: Outbox, domain: str) -> DomainRegistration:
    async with outbox.runtime.session_factory() as session:
        statement = select(DomainRegistration).where(DomainRegistration.domain == domain)
        return (await session.execute(statement)).scalar_one()


async def _statuses(outbox: Outbox) -> dict[str, str]:
    async with outbox.runtime.session_factory() as session:
        return {job.key: job.status for job in await jobs(session)}


def _domain(domain: str) -> OrderItemInput:
    return OrderItemInput(kind="domain", unit_amount=1500, details={"domain": domain, "contacts": CONTACTS})


async def test_a_domain_purchase_registers_it_with_an_expiry(outbox: Outbox) -> None:
    await _buy(outbox, OrderType.NEW, [_domain("Shop.Example")], checkout_session_stripe_id="cs_dom")
    registration = await _registration(outbox, "shop.example")
    now = outbox.runtime.clock.now()
    assert registration.registrar == "sandbox"
    assert registration.expires_at == add_years(now, 1)
    assert set((await _statuses(outbox)).values()) == {JobStatus.DONE}


async def test_a_domain_renewal_extends_the_expiry(outbox: Outbox) -> None:
    await _buy(outbox, OrderType.NEW, [_domain("renew.example")], checkout_session_stripe_id="cs_new")
    first_expiry = (await _registration(outbox, "renew.example")).expires_at
    await _buy(outbox, OrderType.RENEWAL, [_domain("renew.example")], invoice_stripe_id="in_renew")
    renewed = await _registration(outbox, "renew.example")
    assert (renewed.expires_at, renewed.renewals) == (add_years(first_expiry, 1), 1)


async def test_renewing_a_domain_never_registered_is_dead_lettered(outbox: Outbox) -> None:
    await _buy(outbox, OrderType.RENEWAL, [_domain("ghost.example")], invoice_stripe_id="in_ghost")
    async with outbox.runtime.session_factory() as session:
        (job,) = await jobs(session, FulfilmentJob.DOMAIN_RENEW)
    assert job.status == JobStatus.DEAD
    assert job.last_error is not None and "never registered here" in job.last_error


async def test_subscription_activation_then_renewal_extends_the_term_and_sends_a_notice(
    outbox: Outbox,
) -> None:
    start = outbox.runtime.clock.now()
    plan = OrderItemInput(kind="plan", unit_amount=900, product_id="hosting",
                          details={"period_end": (start + timedelta(days=30)).isoformat()})  # fmt: skip
    await _buy(outbox, OrderType.NEW, [plan], invoice_stripe_id="in_first", subscription_stripe_id="sub_9")
    renewal = OrderItemInput(kind="plan", unit_amount=900, product_id="hosting",
                             details={"period_end": (start + timedelta(days=60)).isoformat()})  # fmt: skip
    await _buy(outbox, OrderType.SUBSCRIPTION_RENEWAL, [renewal], invoice_stripe_id="in_second",
               subscription_stripe_id="sub_9")  # fmt: skip

    async with outbox.runtime.session_factory() as session:
        term = (await session.execute(select(PlanTerm))).scalar_one()
    assert (term.subscription_stripe_id, term.renewals) == ("sub_9", 1)
    assert term.expires_at == start + timedelta(days=60)
    notices = [email for email in outbox.emails if email["template"] == "subscription_renewed"]
    assert len(notices) == 1
    assert notices[0]["to"].startswith("buyer-")
    assert notices[0]["context"] == {
        "name": "Ada", "plan_name": "hosting", "amount": 900, "currency": "eur",
        "expires_at": (start + timedelta(days=60)).isoformat(),
    }  # fmt: skip


async def test_a_paid_booking_is_confirmed_and_both_people_are_emailed(outbox: Outbox) -> None:
    async with outbox.runtime.session_factory() as session:
        client = await add_user(session, "client@example.com", "Cleo")
        coach = await add_user(session, "coach@example.com", "Kai")
        booking = await add_booking(session, client, coach)
        await session.commit()
    await _buy(outbox, OrderType.BOOKING, [OrderItemInput(kind="booking", unit_amount=9000)],
               payment_id="pay_b", booking_id=booking.id)  # fmt: skip

    async with outbox.runtime.session_factory() as session:
        assert (await session.get_one(Booking, booking.id)).status == BookingStatus.CONFIRMED
        email_jobs = await jobs(session, "email.send")
    assert sorted(job.key for job in email_jobs) == [
        f"email:booking_confirmed:client@example.com:{booking.id}",
        f"email:booking_new_for_coach:coach@example.com:{booking.id}",
    ]
    assert sorted((email["template"], email["to"]) for email in outbox.emails) == [
        ("booking_confirmed", "client@example.com"), ("booking_new_for_coach", "coach@example.com"),
    ]  # fmt: skip


async def test_a_fulfilment_job_run_again_does_nothing_more(outbox: Outbox) -> None:
    order_id = await _buy(outbox, OrderType.NEW, [_domain("twice.example")], invoice_stripe_id="in_twice")
    async with outbox.runtime.session_factory() as session:
        item = (await session.execute(select(OrderItem).where(OrderItem.order_id == order_id))).scalar_one()
        # The same work asked for again under another key (a replayed event, an operator's retry).
        payload = {"order_id": order_id, "order_item_id": item.id, "reference": "in_twice"}
        await enqueue(session, FulfilmentJob.DOMAIN_REGISTER, payload, key="replayed")
        await session.commit()
    assert await outbox.drain() == 1
    async with outbox.runtime.session_factory() as session:
        replayed = (await session.execute(select(OutboxJob).where(OutboxJob.key == "replayed"))).scalar_one()
        records = (await session.execute(select(func.count()).select_from(FulfilmentRecord))).scalar_one()
    assert replayed.status == JobStatus.DONE  # found its record, did nothing
    assert records == 1
    assert (await _registration(outbox, "twice.example")).renewals == 0


def _install_entry_point(tmp_path: Path) -> None:
    dist = tmp_path / "host_app-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: host-app\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[billhook.fulfilment]\nlicense_key = {__name__}:issue_license_key\n"
    )


async def test_custom_items_call_the_host_entry_point(
    outbox: Outbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_entry_point(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    HOST_CALLS.clear()
    item = OrderItemInput(kind="custom:license_key", unit_amount=500, product_id="pro", details={"seats": 3})
    order_id = await _buy(outbox, OrderType.NEW, [item], checkout_session_stripe_id="cs_custom")
    assert [(call.name, call.order_id, call.details) for call in HOST_CALLS] == [
        ("license_key", order_id, {"seats": 3})
    ]
    assert HOST_CALLS[0].idempotency_key == fulfilment_key(FulfilmentJob.CUSTOM, HOST_CALLS[0].order_item_id,
                                                           "cs_custom")  # fmt: skip
    assert sys.path[0] == str(tmp_path)


async def test_a_custom_kind_without_an_entry_point_is_dead_lettered(outbox: Outbox) -> None:
    item = OrderItemInput(kind="custom:nobody_installed", unit_amount=500)
    await _buy(outbox, OrderType.NEW, [item], checkout_session_stripe_id="cs_missing")
    async with outbox.runtime.session_factory() as session:
        (job,) = await jobs(session, FulfilmentJob.CUSTOM)
    assert job.status == JobStatus.DEAD
    assert (
        job.last_error is not None
        and "no 'billhook.fulfilment' entry point named 'nobody_installed'" in job.last_error
    )


async def test_a_renewal_without_a_period_end_reads_the_subscription_mirror(outbox: Outbox) -> None:
    period_end = outbox.runtime.clock.now() + timedelta(days=31)
    async with outbox.runtime.session_factory() as session:
        session.add(Subscription(stripe_id="sub_mirror", status="active", current_period_end=period_end))
        await session.commit()
    plan = OrderItemInput(kind="hosting", unit_amount=900, product_id="hosting")
    await _buy(outbox, OrderType.SUBSCRIPTION_RENEWAL, [plan], invoice_stripe_id="in_mirror",
               subscription_stripe_id="sub_mirror")  # fmt: skip
    async with outbox.runtime.session_factory() as session:
        term = (await session.execute(select(PlanTerm))).scalar_one()
    assert (term.subscription_stripe_id, term.expires_at, term.renewals) == ("sub_mirror", period_end, 1)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billhook.errors import InvalidInput, NotFound
from billhook.fulfilment.requests import FulfilmentJob
from billhook.fulfilment.webhooks import add_endpoint, disable_endpoint, list_endpoints
from billhook.models import Booking, BookingStatus, Order, OrderItem, OrderType, Payment, PaymentStatus
from billhook.orders.schemas import OrderItemInput, OrderStatus
from billhook.orders.service import record_order_payment_failed, record_order_refunded, record_paid_order
from tests.support.fulfilment import add_booking, add_user, jobs

CONTACTS = {"email": "owner@example.com", "name": "Ada Owner"}


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session on a database where one endpoint takes every outgoing event (so they publish)."""
    async with session_factory() as session:
        await add_endpoint(session, "https://host.example/hooks")
        yield session


def _domain(domain: str = "example.com", contacts: dict[str, str] | None = CONTACTS) -> OrderItemInput:
    details = {"domain": domain, "years": 1, **({"contacts": contacts} if contacts else {})}
    return OrderItemInput(kind="domain", unit_amount=1500, product_id="domain", details=details)


async def _paid(session: AsyncSession, order_type: str, items: list[OrderItemInput], **ids: str) -> Order:
    return await record_paid_order(
        session, order_type=order_type, user_id=None, customer_id=None,
        amount_total=sum(item.unit_amount * item.quantity for item in items), currency="EUR", items=items,
        **ids,  # type: ignore[arg-type]
    )  # fmt: skip


async def _job_types(session: AsyncSession) -> list[str]:
    return sorted(job.type for job in await jobs(session))


async def test_a_new_order_registers_domains_with_contacts_and_activates_plans(session: AsyncSession) -> None:
    items = [
        _domain("with-contacts.com"),
        _domain("no-contacts.com", contacts=None),
        OrderItemInput(kind="plan", unit_amount=900, product_id="hosting_basic"),
        OrderItemInput(kind="credits", unit_amount=100),
    ]
    order = await _paid(
        session, OrderType.NEW, items, checkout_session_stripe_id="cs_1", subscription_stripe_id="sub_1"
    )
    assert (order.status, order.currency, order.amount_total) == (OrderStatus.PAID, "eur", 4000)
    assert await _job_types(session) == [
        FulfilmentJob.DOMAIN_REGISTER, FulfilmentJob.SUBSCRIPTION_ACTIVATE, FulfilmentJob.WEBHOOK_PUBLISH,
    ]  # fmt: skip
    register = (await jobs(session, FulfilmentJob.DOMAIN_REGISTER))[0]
    item_id = register.payload["order_item_id"]
    assert register.key == f"{FulfilmentJob.DOMAIN_REGISTER}:{item_id}:cs_1"


async def test_no_webhook_is_published_without_a_subscribed_endpoint(session: AsyncSession) -> None:
    for endpoint in await list_endpoints(session):
        await disable_endpoint(session, endpoint.id)
    await add_endpoint(session, "https://refunds.example/hooks", event_types=["payment.refunded"])
    items = [OrderItemInput(kind="plan", unit_amount=4900, product_id="pro")]
    await _paid(session, OrderType.NEW, items, checkout_session_stripe_id="cs_quiet")
    assert await _job_types(session) == []


async def test_a_one_time_plan_purchase_starts_no_subscription_term(session: AsyncSession) -> None:
    items = [OrderItemInput(kind="plan", unit_amount=4900, product_id="pro")]
    await _paid(session, OrderType.NEW, items, checkout_session_stripe_id="cs_once")
    assert await _job_types(session) == [FulfilmentJob.WEBHOOK_PUBLISH]


@pytest.mark.parametrize(
    ("order_type", "item", "expected"),
    [
        (OrderType.RENEWAL, _domain(), FulfilmentJob.DOMAIN_RENEW),
        (
            OrderType.SUBSCRIPTION_RENEWAL,
            OrderItemInput(kind="plan", unit_amount=900),
            FulfilmentJob.SUBSCRIPTION_RENEW,
        ),
        (OrderType.NEW, OrderItemInput(kind="custom:license_key", unit_amount=900), FulfilmentJob.CUSTOM),
    ],
)
async def test_each_order_type_starts_its_job(
    session: AsyncSession, order_type: str, item: OrderItemInput, expected: str
) -> None:
    await _paid(session, order_type, [item], invoice_stripe_id="in_1", subscription_stripe_id="sub_1")
    assert await _job_types(session) == sorted([expected, FulfilmentJob.WEBHOOK_PUBLISH])
    job = (await jobs(session, expected))[0]
    assert job.key.endswith(":in_1")  # keyed by the invoice


async def test_a_booking_order_confirms_the_booking(session: AsyncSession) -> None:
    client, coach = (
        await add_user(session, "client@example.com"),
        await add_user(session, "coach@example.com"),
    )
    booking = await add_booking(session, client, coach)
    item = OrderItemInput(kind="booking", unit_amount=9000)
    await record_paid_order(
        session, order_type=OrderType.BOOKING, user_id=client.id, customer_id=None, amount_total=9000,
        currency="eur", items=[item], payment_id="pay_1", booking_id=booking.id,
    )  # fmt: skip
    confirm = await jobs(session, FulfilmentJob.BOOKING_CONFIRM)
    assert len(confirm) == 1 and confirm[0].key.endswith(":pay_1")
    line = await session.get_one(OrderItem, confirm[0].payload["order_item_id"])
    assert line.details["booking_id"] == booking.id


async def test_recording_the_same_payment_twice_creates_one_order_and_dispatches_once(
    session: AsyncSession,
) -> None:
    first = await _paid(session, OrderType.NEW, [_domain()], checkout_session_stripe_id="cs_twice")
    jobs_after_first = len(await jobs(session))
    second = await _paid(session, OrderType.NEW, [_domain()], checkout_session_stripe_id="cs_twice")
    assert second.id == first.id
    assert len(await jobs(session)) == jobs_after_first
    assert (await session.execute(select(func.count()).select_from(Order))).scalar_one() == 1
    assert (await session.execute(select(func.count()).select_from(OrderItem))).scalar_one() == 1


async def test_concurrent_deliveries_of_one_payment_make_one_order(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async def record() -> str:
        async with session_factory() as session:
            order = await _paid(session, OrderType.NEW, [_domain()], invoice_stripe_id="in_race")
            await session.commit()
            return order.id

    first, second = await asyncio.gather(record(), record())
    assert first == second
    async with session_factory() as session:
        assert len(await jobs(session, FulfilmentJob.DOMAIN_REGISTER)) == 1


async def test_a_pending_order_from_checkout_is_marked_paid_and_dispatched(session: AsyncSession) -> None:
    pending = Order(id="ord_pending", type=OrderType.NEW, status="pending", amount_total=1500,
                    currency="eur", checkout_session_stripe_id="cs_pending")  # fmt: skip
    session.add(pending)
    await session.flush()
    order = await _paid(session, OrderType.NEW, [_domain()], checkout_session_stripe_id="cs_pending")
    assert (order.id, order.status) == ("ord_pending", OrderStatus.PAID)
    assert len(await jobs(session, FulfilmentJob.DOMAIN_REGISTER)) == 1


BAD_INPUT: list[tuple[dict[str, object], str]] = [
    ({"order_type": "gift"}, "unknown order type 'gift'"),
    ({"items": []}, "at least one item"),
    ({"items": [OrderItemInput(kind="spaceship", unit_amount=1)]}, "unknown item kind 'spaceship'"),
    ({"items": [OrderItemInput(kind="domain", unit_amount=1)]}, "needs details['domain']"),
    ({"currency": "euro"}, "three-letter ISO currency code"),
    (
        {"checkout_session_stripe_id": None},
        "needs invoice_stripe_id, checkout_session_stripe_id or payment_id",
    ),
    ({"order_type": "booking"}, "needs booking_id"),
]


async def test_bad_input_is_refused_with_a_clear_message(session: AsyncSession) -> None:
    for changes, message in BAD_INPUT:
        arguments: dict[str, object] = {
            "order_type": "new", "user_id": None, "customer_id": None, "amount_total": 100, "currency": "eur",
            "items": [_domain()], "checkout_session_stripe_id": "cs_bad", **changes,
        }  # fmt: skip
        with pytest.raises(InvalidInput) as raised:
            await record_paid_order(session, **arguments)  # type: ignore[arg-type]
        assert message in raised.value.message
    assert await jobs(session) == []


async def test_a_failed_payment_marks_an_unpaid_order_but_never_a_paid_one(session: AsyncSession) -> None:
    session.add(Order(id="ord_unpaid", type=OrderType.NEW, status="pending", amount_total=100, currency="eur",
                      invoice_stripe_id="in_unpaid"))  # fmt: skip
    await session.flush()
    failed = await record_order_payment_failed(session, invoice_stripe_id="in_unpaid", reason="card_declined")
    assert failed is not None and failed.status == OrderStatus.PAYMENT_FAILED
    assert failed.metadata_["failure_reason"] == "card_declined"

    paid = await _paid(session, OrderType.NEW, [_domain()], invoice_stripe_id="in_paid")
    still = await record_order_payment_failed(session, invoice_stripe_id="in_paid")
    assert still is not None and (still.id, still.status) == (paid.id, OrderStatus.PAID)
    assert await record_order_payment_failed(session, invoice_stripe_id="in_unknown") is None


async def test_a_full_refund_of_a_booking_cancels_it_and_publishes_once(session: AsyncSession) -> None:
    client, coach = await add_user(session, "c@example.com"), await add_user(session, "k@example.com")
    booking = await add_booking(session, client, coach)
    booking.status = BookingStatus.CONFIRMED
    order = await record_paid_order(
        session, order_type=OrderType.BOOKING, user_id=client.id, customer_id=None, amount_total=9000,
        currency="eur", items=[OrderItemInput(kind="booking", unit_amount=9000)],
        checkout_session_stripe_id="cs_booking", booking_id=booking.id,
    )  # fmt: skip
    for _ in range(2):  # the same refund reported twice
        refunded = await record_order_refunded(
            session, refund_id="re_1", amount_refunded=9000, checkout_session_stripe_id="cs_booking"
        )
    assert (refunded.id, refunded.status) == (order.id, OrderStatus.REFUNDED)
    assert (
        await session.get_one(Booking, booking.id, populate_existing=True)
    ).status == BookingStatus.CANCELLED
    published = [job.key for job in await jobs(session, FulfilmentJob.WEBHOOK_PUBLISH)]
    assert published.count("webhook.publish:payment.refunded:re_1") == 1


async def test_a_partial_refund_keeps_the_booking(session: AsyncSession) -> None:
    client, coach = await add_user(session, "c2@example.com"), await add_user(session, "k2@example.com")
    booking = await add_booking(session, client, coach)
    await record_paid_order(
        session, order_type=OrderType.BOOKING, user_id=client.id, customer_id=None, amount_total=9000,
        currency="eur", items=[OrderItemInput(kind="booking", unit_amount=9000)],
        invoice_stripe_id="in_booking", booking_id=booking.id,
    )  # fmt: skip
    order = await record_order_refunded(
        session, refund_id="re_2", amount_refunded=1000, invoice_stripe_id="in_booking"
    )
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert (await session.get_one(Booking, booking.id)).status == BookingStatus.PENDING


async def test_refunding_an_unknown_order_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await record_order_refunded(session, refund_id="re_x", amount_refunded=1, invoice_stripe_id="in_nope")


async def test_a_refund_finds_the_order_through_its_payment(session: AsyncSession) -> None:
    payment = Payment(amount=2500, currency="eur", status=PaymentStatus.SUCCEEDED)
    session.add(payment)
    await session.flush()
    order = await record_paid_order(
        session, order_type=OrderType.NEW, user_id=None, customer_id=None, amount_total=2500, currency="eur",
        items=[OrderItemInput(kind="credits", unit_amount=2500)], payment_id=payment.id,
    )  # fmt: skip
    assert (await session.get_one(Payment, payment.id, populate_existing=True)).order_id == order.id
    refunded = await record_order_refunded(
        session, refund_id="re_9", amount_refunded=2500, payment_id=payment.id
    )
    assert (refunded.id, refunded.status) == (order.id, OrderStatus.REFUNDED)

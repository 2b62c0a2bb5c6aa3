"""One checkout-sync service: the webhook and the success redirect apply a session identically.

Each case seeds the same user, order and checkout row, applies the provider's session once through
the ``checkout.session.completed`` handler and once (on a wiped and re-seeded database) through
the success redirect, and compares the mirror rows, the outbox jobs and the emails.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from billhook.cache import build_cache
from billhook.checkout.service import CheckoutDeps
from billhook.config import Settings
from billhook.db.base import Base
from billhook.inbox.handlers import ROUTES, HandlerContext
from billhook.kit.clock import FrozenClock
from billhook.models import (
    AuditEntry,
    CheckoutSession,
    Customer,
    EmailMessage,
    Order,
    OutboxJob,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Subscription,
    User,
)
from billhook.payments.checkout_sync import complete_from_redirect
from billhook.providers.base import (
    ProviderCharge,
    ProviderCheckoutSession,
    ProviderCustomer,
    ProviderEvent,
    ProviderLineItem,
    ProviderPaymentIntent,
    ProviderSubscription,
    ProviderSubscriptionItem,
)
from billhook.runtime import Runtime
from tests.support.fake_provider import FakeProvider

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = "usr_ada"
ORDER = "ord_ada"
BOOKING_PAYMENT = "pay_booking"
MIRROR = (Customer, PaymentMethod, Subscription, Payment, CheckoutSession, Order)
IGNORED_COLUMNS = frozenset({"id", "created_at", "updated_at"})

CUSTOMER = ProviderCustomer(id="cus_ada", email="ada@example.com", name="Ada", created=NOW)
SUBSCRIPTION = ProviderSubscription(
    id="sub_ada",
    customer_id=CUSTOMER.id,
    status="active",
    items=(
        ProviderSubscriptionItem(
            id="si_ada",
            price_id="price_premium",
            product_id="prod_premium",
            unit_amount=2000,
            currency="usd",
            interval="month",
            current_period_start=NOW,
            current_period_end=NOW + timedelta(days=30),
        ),
    ),
    created=NOW,
)
INTENT = ProviderPaymentIntent(
    id="pi_ada",
    customer_id=CUSTOMER.id,
    amount=4900,
    currency="usd",
    status="succeeded",
    amount_received=4900,
    latest_charge_id="ch_ada",
    created=NOW,
)
CHARGE = ProviderCharge(
    id="ch_ada",
    payment_intent_id=INTENT.id,
    customer_id=CUSTOMER.id,
    amount=4900,
    currency="usd",
    status="succeeded",
    created=NOW,
)
SUBSCRIPTION_CHECKOUT = ProviderCheckoutSession(
    id="cs_subscribe",
    mode="subscription",
    status="complete",
    payment_status="paid",
    customer_id=CUSTOMER.id,
    customer_email=CUSTOMER.email,
    client_reference_id=USER,
    subscription_id=SUBSCRIPTION.id,
    amount_total=2000,
    currency="usd",
    line_items=(ProviderLineItem("price_premium", "prod_premium", 1, 2000, "usd"),),
    created=NOW,
)
PAYMENT_CHECKOUT = ProviderCheckoutSession(
    id="cs_buy",
    mode="payment",
    status="complete",
    payment_status="paid",
    customer_id=CUSTOMER.id,
    customer_email=CUSTOMER.email,
    client_reference_id=USER,
    payment_intent_id=INTENT.id,
    amount_total=4900,
    currency="usd",
    line_items=(ProviderLineItem("price_starter", "prod_starter", 1, 4900, "usd"),),
    created=NOW,
)


@dataclass(frozen=True)
class Case:
    checkout: ProviderCheckoutSession
    order_amount: int
    booking_payment: bool = False


CASES = {
    "subscription": Case(SUBSCRIPTION_CHECKOUT, order_amount=2000),
    "one-time purchase": Case(PAYMENT_CHECKOUT, order_amount=4900),
    "booking payment adopted": Case(PAYMENT_CHECKOUT, order_amount=4900, booking_payment=True),
    "amount mismatch": Case(PAYMENT_CHECKOUT, order_amount=5900),
}


def provider_for(case: Case) -> FakeProvider:
    return FakeProvider(CUSTOMER, SUBSCRIPTION, INTENT, CHARGE, case.checkout)


async def seed(session: AsyncSession, case: Case) -> CheckoutSession:
    """What opening the checkout left behind: the user, the pending order and the session row."""
    session.add(User(id=USER, email="ada@example.com"))
    await session.flush()
    session.add(Order(id=ORDER, user_id=USER, amount_total=case.order_amount, currency="usd"))
    await session.flush()
    row = CheckoutSession(stripe_id=case.checkout.id, user_id=USER, order_id=ORDER, mode=case.checkout.mode)
    session.add(row)
    if case.booking_payment:
        session.add(
            Payment(
                id=BOOKING_PAYMENT,
                user_id=USER,
                checkout_session_stripe_id=case.checkout.id,
                amount=4900,
                currency="usd",
            )
        )
    await session.flush()
    return row


async def wipe(session: AsyncSession) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        await session.execute(delete(table))
    await session.commit()


async def by_webhook(runtime: Runtime, provider: FakeProvider, case: Case) -> None:
    event = ProviderEvent(
        id="evt_completed",
        type="checkout.session.completed",
        created=NOW,
        livemode=False,
        api_version=None,
        data_object={"id": case.checkout.id, "object": "checkout.session"},
    )
    async with runtime.session_factory() as session:
        await seed(session, case)
        await ROUTES[event.type](HandlerContext(session, provider, event, NOW))
        await session.commit()


async def by_redirect(runtime: Runtime, provider: FakeProvider, case: Case) -> None:
    assert runtime.cache is not None
    async with runtime.session_factory() as session:
        row = await seed(session, case)
        no_actions: Any = None  # applying a session only reads from the provider
        deps = CheckoutDeps(session, no_actions, provider, runtime.settings, FrozenClock(NOW), runtime.cache)
        user = await complete_from_redirect(deps, row)
        await session.commit()
    assert user.id == USER


UNIT_OF_WORK = re.compile(r"uow_[0-9A-Za-z]+")
Path = Callable[[Runtime, FakeProvider, Case], Awaitable[None]]


def _plain(row: Any, labels: dict[str, str]) -> dict[str, Any]:
    values = {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in IGNORED_COLUMNS}
    return {
        key: labels.get(value, value) if isinstance(value, str) else value for key, value in values.items()
    }


async def snapshot(runtime: Runtime) -> dict[str, Any]:
    """The mirror rows (row ids named by their provider ids), outbox jobs and emails."""
    async with runtime.session_factory() as session:
        rows = {model: list(await session.scalars(select(model))) for model in MIRROR}
        labels = {
            row.id: f"{model.__tablename__}:{getattr(row, 'stripe_id', None) or row.id}"
            for model, found in rows.items()
            for row in found
        }
        mirror = {
            model.__tablename__: sorted((_plain(row, labels) for row in found), key=repr)
            for model, found in rows.items()
        }
        # A stale-views job's key names its transaction (billhook/customers/views.py): compare kinds.
        jobs = sorted(
            (job.type, UNIT_OF_WORK.sub("uow", job.key), job.payload)
            for job in await session.scalars(select(OutboxJob))
        )
        emails = sorted(
            _plain(email, labels).items() for email in await session.scalars(select(EmailMessage))
        )
        audit = sorted(await session.scalars(select(AuditEntry.action)))
    return {"mirror": mirror, "jobs": jobs, "emails": emails, "audit_actions": audit}


@pytest.fixture
async def runtime(settings: Settings) -> Any:
    runtime = Runtime.build(settings, FrozenClock(NOW))
    runtime.cache = build_cache(settings)
    yield runtime
    await runtime.aclose()


async def applied(runtime: Runtime, path: Path, case: Case) -> dict[str, Any]:
    async with runtime.session_factory() as session:
        await wipe(session)
    await path(runtime, provider_for(case), case)
    return await snapshot(runtime)


@pytest.mark.parametrize("name", list(CASES))
async def test_the_webhook_and_the_redirect_leave_the_same_mirror_jobs_and_emails(
    runtime: Runtime, name: str
) -> None:
    case = CASES[name]
    webhook = await applied(runtime, by_webhook, case)
    redirect = await applied(runtime, by_redirect, case)

    assert webhook["mirror"] == redirect["mirror"]
    assert webhook["jobs"] == redirect["jobs"]
    assert webhook["emails"] == redirect["emails"]
    assert webhook["mirror"]["checkout_sessions"][0]["status"] == "complete"


async def test_a_paid_one_time_checkout_requests_its_order_once_by_either_path(runtime: Runtime) -> None:
    case = CASES["one-time purchase"]
    for path in (by_webhook, by_redirect):
        jobs = (await applied(runtime, path, case))["jobs"]
        assert [key for kind, key, _ in jobs if kind == "order.record_paid"] == ["order:cs_buy"]


async def test_a_paid_amount_unlike_the_orders_records_no_order_by_either_path(runtime: Runtime) -> None:
    case = CASES["amount mismatch"]
    for path in (by_webhook, by_redirect):
        applied_ = await applied(runtime, path, case)
        assert [kind for kind, _, _ in applied_["jobs"] if kind == "order.record_paid"] == []
        assert "order.amount_mismatch" in applied_["audit_actions"]


async def test_a_booking_checkout_adopts_its_pending_payment_by_either_path(runtime: Runtime) -> None:
    case = CASES["booking payment adopted"]
    for path in (by_webhook, by_redirect):
        payments = (await applied(runtime, path, case))["mirror"]["payments"]
        assert len(payments) == 1
        assert payments[0]["stripe_payment_intent_id"] == INTENT.id
        assert payments[0]["status"] == PaymentStatus.SUCCEEDED


async def test_a_subscription_checkout_links_the_customer_and_requests_entitlements(runtime: Runtime) -> None:
    case = CASES["subscription"]
    for path in (by_webhook, by_redirect):
        applied_ = await applied(runtime, path, case)
        assert [c["user_id"] for c in applied_["mirror"]["customers"]] == [USER]
        assert [kind for kind, _, _ in applied_["jobs"]] == [
            "entitlements.sync",
            "payments.invalidate_stats",  # the new subscription makes the user's views stale
            "subscriptions.invalidate_cache",
        ]

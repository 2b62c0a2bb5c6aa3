"""Every query the operator console reads with: customer search, the object lists, one customer.

Lists are newest first and paged by keyset on ``(created_at, id)`` (see :mod:`billhook.admin.filters`):
each page is one indexed range read of ``limit + 1`` rows, the extra row telling whether a next
page exists. The console only reads here; its actions go through the domain services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from billhook.admin.filters import Cursor, ListFilter, encode_cursor, is_ident
from billhook.models import (
    AuditEntry,
    Booking,
    Customer,
    Dispute,
    EmailMessage,
    FulfilmentRecord,
    InboxEvent,
    InboxStatus,
    Invoice,
    JobStatus,
    Order,
    OrderItem,
    OutboxJob,
    Payment,
    PaymentMethod,
    Price,
    Product,
    Refund,
    Subscription,
    User,
)

AnySelect = Select[*tuple[Any, ...]]
PAGE_SIZE = 50
DETAIL_LIMIT = 100
PROBLEM_LIMIT = 50
RECENT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Row:
    """One list row: the object and the email of whom it belongs to (when known)."""

    item: Any
    email: str | None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    next_cursor: str | None
    ignored: tuple[str, ...] = ()  # filters this list cannot apply


# -- lists ------------------------------------------------------------------------------------------


def _after(created: InstrumentedAttribute[Any], ident: InstrumentedAttribute[Any], cursor: Cursor) -> Any:
    """Rows strictly after ``cursor`` in newest-first order: ``(created_at, id) < cursor``.

    Spelled out, with the redundant ``created_at <= cursor`` first: that bound is what lets both
    SQLite and PostgreSQL start a backward range scan of the ``created_at`` index at the cursor
    (a row-value or bare OR comparison is not used as an index bound there)."""
    tie_or_older = or_(created < cursor.created_at, and_(created == cursor.created_at, ident < cursor.id))
    return and_(created <= cursor.created_at, tie_or_older)


async def _page(
    session: AsyncSession,
    statement: AnySelect,
    model: Any,
    cursor: Cursor | None,
    *,
    limit: int,
    ignored: tuple[str, ...] = (),
) -> Page:
    if cursor is not None:
        statement = statement.where(_after(model.created_at, model.id, cursor))
    statement = statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    found = [Row(item, email) for item, email in (await session.execute(statement)).all()]
    more = len(found) > limit
    rows = found[:limit]
    last = rows[-1].item if more and rows else None
    return Page(rows, encode_cursor(last.created_at, last.id) if last else None, ignored)


def _dates(statement: AnySelect, column: Any, chosen: ListFilter) -> AnySelect:
    if chosen.since is not None:
        statement = statement.where(column >= chosen.since)
    if chosen.until is not None:
        statement = statement.where(column < chosen.until)
    return statement


def _plan_subscriptions(plan: str) -> AnySelect:
    return select(Subscription.id).where(Subscription.product_id == plan)


async def subscriptions(
    session: AsyncSession, chosen: ListFilter, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    statement = select(Subscription, Customer.email).outerjoin(
        Customer, Customer.id == Subscription.customer_id
    )
    if chosen.status:
        statement = statement.where(Subscription.status == chosen.status)
    if chosen.plan:
        statement = statement.where(Subscription.product_id == chosen.plan)
    if chosen.currency:
        priced = select(Price.stripe_id).where(Price.currency == chosen.currency)
        statement = statement.where(Subscription.price_stripe_id.in_(priced))
    return await _page(
        session, _dates(statement, Subscription.created_at, chosen), Subscription, cursor, limit=limit
    )


async def payments(
    session: AsyncSession, chosen: ListFilter, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    statement = select(Payment, Customer.email).outerjoin(Customer, Customer.id == Payment.customer_id)
    if chosen.status:
        statement = statement.where(Payment.status == chosen.status)
    if chosen.currency:
        statement = statement.where(Payment.currency == chosen.currency)
    if chosen.plan:
        invoices = select(Invoice.id).where(Invoice.subscription_id.in_(_plan_subscriptions(chosen.plan)))
        statement = statement.where(Payment.invoice_id.in_(invoices))
    return await _page(session, _dates(statement, Payment.created_at, chosen), Payment, cursor, limit=limit)


async def invoices(
    session: AsyncSession, chosen: ListFilter, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    statement = select(Invoice, Customer.email).outerjoin(Customer, Customer.id == Invoice.customer_id)
    if chosen.status:
        statement = statement.where(Invoice.status == chosen.status)
    if chosen.currency:
        statement = statement.where(Invoice.currency == chosen.currency)
    if chosen.plan:
        statement = statement.where(Invoice.subscription_id.in_(_plan_subscriptions(chosen.plan)))
    return await _page(session, _dates(statement, Invoice.created_at, chosen), Invoice, cursor, limit=limit)


async def bookings(
    session: AsyncSession, chosen: ListFilter, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    statement = select(Booking, User.email).outerjoin(User, User.id == Booking.client_id)
    if chosen.status:
        statement = statement.where(Booking.status == chosen.status)
    if chosen.currency:
        statement = statement.where(Booking.currency == chosen.currency)
    ignored = ("plan",) if chosen.plan else ()
    return await _page(
        session, _dates(statement, Booking.created_at, chosen), Booking, cursor, limit=limit, ignored=ignored
    )


async def orders(
    session: AsyncSession, chosen: ListFilter, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    statement = select(Order, User.email).outerjoin(User, User.id == Order.user_id)
    if chosen.status:
        statement = statement.where(Order.status == chosen.status)
    if chosen.currency:
        statement = statement.where(Order.currency == chosen.currency)
    if chosen.plan:
        items = select(OrderItem.order_id).where(OrderItem.product_id == chosen.plan)
        statement = statement.where(Order.id.in_(items))
    return await _page(session, _dates(statement, Order.created_at, chosen), Order, cursor, limit=limit)


async def plans(session: AsyncSession) -> list[tuple[str, str]]:
    """``(product id, name)`` of the catalog, for the plan filter's choices."""
    rows = await session.execute(select(Product.id, Product.name).order_by(Product.id))
    return [(row.id, row.name) for row in rows]


# -- customers --------------------------------------------------------------------------------------


def _escape_like(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (``%`` and ``_`` are wildcards there)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _by_id(text: str) -> Any:
    """The provider's customer id, Billhook's customer id or its user's id: each a unique index."""
    return or_(Customer.stripe_id == text, Customer.id == text, Customer.user_id == text)


def _by_text(text: str) -> Any:
    """By email (a prefix when the text has an ``@``), else by name or email containing the text.
    Case-insensitive; ``%`` and ``_`` in the text are matched literally."""
    lowered = text.lower()
    escaped = _escape_like(lowered)
    if "@" in lowered:
        pattern = f"{escaped}%"
        return or_(func.lower(Customer.email).like(pattern, escape="\\"),
                   func.lower(User.email).like(pattern, escape="\\"))  # fmt: skip
    pattern = f"%{escaped}%"
    return or_(
        func.lower(Customer.name).like(pattern, escape="\\"),
        func.lower(Customer.email).like(pattern, escape="\\"),
        func.lower(User.name).like(pattern, escape="\\"),
    )


async def search_customers(
    session: AsyncSession, text: str, cursor: Cursor | None, limit: int = PAGE_SIZE
) -> Page:
    """Customers matching ``text`` (all of them when it is empty), with their user's email.

    Text that could be an id is first looked up as one (an index lookup); only when nothing has
    that id is it searched for in names and emails (a scan of the customers).
    """
    statement = select(Customer, User.email).outerjoin(User, User.id == Customer.user_id)
    if not text:
        return await _page(session, statement, Customer, cursor, limit=limit)
    if is_ident(text) and cursor is None:
        found = await _page(session, statement.where(_by_id(text)), Customer, None, limit=limit)
        if found.rows:
            return found
    return await _page(session, statement.where(_by_text(text)), Customer, cursor, limit=limit)


@dataclass
class CustomerView:
    """Everything about one customer, for the customer page (each list newest first)."""

    customer: Customer
    user: User | None
    payment_methods: list[PaymentMethod] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    order_items: list[OrderItem] = field(default_factory=list)
    fulfilments: list[FulfilmentRecord] = field(default_factory=list)
    emails: list[EmailMessage] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


async def _all(session: AsyncSession, statement: AnySelect) -> list[Any]:
    return list((await session.scalars(statement.limit(DETAIL_LIMIT))).all())


def _owned(column_customer: Any, column_user: Any, customer: Customer) -> Any:
    """Belongs to the customer, or to their user when the row has no customer (one-time orders)."""
    if customer.user_id is None:
        return column_customer == customer.id
    return or_(column_customer == customer.id, column_user == customer.user_id)


def _addressed_to(emails: Sequence[str]) -> Any:
    """Messages to any of ``emails``: stored as ``addr`` or ``Name <addr>``."""
    conditions = []
    for address in emails:
        literal = _escape_like(address)
        conditions += [func.lower(EmailMessage.to_email) == address,
                       func.lower(EmailMessage.to_email).like(f"%<{literal}>", escape="\\")]  # fmt: skip
    return or_(*conditions)


async def customer_view(session: AsyncSession, customer_id: str) -> CustomerView | None:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return None
    user = await session.get(User, customer.user_id) if customer.user_id else None
    view = CustomerView(customer, user)
    view.payment_methods = await _all(
        session, select(PaymentMethod).where(PaymentMethod.customer_id == customer.id)
    )
    view.subscriptions = await _all(
        session, select(Subscription).where(Subscription.customer_id == customer.id)
        .order_by(Subscription.created_at.desc(), Subscription.id.desc()),
    )  # fmt: skip
    view.invoices = await _all(
        session, select(Invoice).where(Invoice.customer_id == customer.id)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc()),
    )  # fmt: skip
    view.payments = await _all(
        session, select(Payment).where(_owned(Payment.customer_id, Payment.user_id, customer))
        .order_by(Payment.created_at.desc(), Payment.id.desc()),
    )  # fmt: skip
    paid = [payment.id for payment in view.payments]
    view.refunds = await _all(
        session, select(Refund).where(Refund.payment_id.in_(paid)).order_by(Refund.created_at.desc())
    )
    view.disputes = await _all(
        session, select(Dispute).where(Dispute.payment_id.in_(paid)).order_by(Dispute.created_at.desc())
    )
    await _orders(session, view)
    addresses = sorted({a.lower() for a in (customer.email, user.email if user else None) if a})
    if addresses:
        view.emails = await _all(
            session, select(EmailMessage).where(_addressed_to(addresses))
            .order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc()),
        )  # fmt: skip
    if user is not None:
        view.bookings = await _all(
            session, select(Booking).where(or_(Booking.client_id == user.id, Booking.coach_id == user.id))
            .order_by(Booking.start_at.desc()),
        )  # fmt: skip
    view.audit = await _all(session, _audit_of(customer))
    return view


async def _orders(session: AsyncSession, view: CustomerView) -> None:
    view.orders = await _all(
        session, select(Order).where(_owned(Order.customer_id, Order.user_id, view.customer))
        .order_by(Order.created_at.desc(), Order.id.desc()),
    )  # fmt: skip
    ids = [order.id for order in view.orders]
    view.order_items = await _all(session, select(OrderItem).where(OrderItem.order_id.in_(ids)))
    items = [item.id for item in view.order_items]
    view.fulfilments = await _all(
        session, select(FulfilmentRecord).where(FulfilmentRecord.order_item_id.in_(items))
        .order_by(FulfilmentRecord.created_at.desc()),
    )  # fmt: skip


def _audit_of(customer: Customer) -> AnySelect:
    about = AuditEntry.customer_id == customer.id
    if customer.user_id is not None:
        about = or_(about, AuditEntry.user_id == customer.user_id)
    return select(AuditEntry).where(about).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())


async def subscription(session: AsyncSession, subscription_id: str) -> Subscription | None:
    """By Billhook id or provider id."""
    return await session.scalar(
        select(Subscription).where(
            or_(Subscription.id == subscription_id, Subscription.stripe_id == subscription_id)
        )
    )


# -- operations -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationsLists:
    """Problems first (dead and failed), then the most recent of everything."""

    problem_events: list[InboxEvent]
    recent_events: list[InboxEvent]
    dead_jobs: list[OutboxJob]
    recent_jobs: list[OutboxJob]
    failed_emails: list[EmailMessage]
    recent_emails: list[EmailMessage]


async def _list(session: AsyncSession, statement: AnySelect, limit: int) -> list[Any]:
    return list(await session.scalars(statement.limit(limit)))


async def _recent(session: AsyncSession, model: Any) -> list[Any]:
    return await _list(session, select(model).order_by(model.id.desc()), RECENT_LIMIT)


async def operations_lists(session: AsyncSession) -> OperationsLists:
    """Problems through the status indexes (few rows, then sorted); the most recent rows by primary
    key, newest first: ids start with their creation time in milliseconds (:mod:`billhook.kit.ids`),
    so that is the order of arrival without an index on the time columns."""
    problem = (InboxStatus.DEAD.value, InboxStatus.FAILED.value)
    dead_first = case((InboxEvent.status == InboxStatus.DEAD.value, 0), else_=1)
    problems = (
        select(InboxEvent)
        .where(InboxEvent.status.in_(problem))
        .order_by(dead_first, InboxEvent.received_at.desc(), InboxEvent.id.desc())
    )
    dead_jobs = (
        select(OutboxJob)
        .where(OutboxJob.status == JobStatus.DEAD.value)
        .order_by(OutboxJob.created_at.desc(), OutboxJob.id.desc())
    )
    failed_emails = (
        select(EmailMessage)
        .where(EmailMessage.status == "failed")
        .order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    )
    return OperationsLists(
        problem_events=await _list(session, problems, PROBLEM_LIMIT),
        recent_events=await _recent(session, InboxEvent),
        dead_jobs=await _list(session, dead_jobs, PROBLEM_LIMIT),
        recent_jobs=await _recent(session, OutboxJob),
        failed_emails=await _list(session, failed_emails, PROBLEM_LIMIT),
        recent_emails=await _recent(session, EmailMessage),
    )


async def inbox_events(session: AsyncSession, ids: Sequence[str]) -> list[InboxEvent]:
    """The inbox rows named by row id (``ie_…``) or provider event id (``evt_…``)."""
    chosen = list(ids)
    found = await session.scalars(
        select(InboxEvent).where(or_(InboxEvent.id.in_(chosen), InboxEvent.event_id.in_(chosen)))
    )
    return list(found)


async def outbox_jobs(session: AsyncSession, ids: Sequence[str]) -> list[OutboxJob]:
    return list(await session.scalars(select(OutboxJob).where(OutboxJob.id.in_(list(ids)))))


async def email_messages(session: AsyncSession, ids: Sequence[str]) -> list[EmailMessage]:
    return list(await session.scalars(select(EmailMessage).where(EmailMessage.id.in_(list(ids)))))


async def job_by_key(session: AsyncSession, key: str) -> OutboxJob | None:
    return await session.scalar(select(OutboxJob).where(OutboxJob.key == key))

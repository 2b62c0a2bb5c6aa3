from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.ids import new_id


class OrderType(StrEnum):
    NEW = "new"
    RENEWAL = "renewal"
    SUBSCRIPTION_RENEWAL = "subscription_renewal"
    BOOKING = "booking"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ord"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(30), default=OrderType.NEW, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="pending", nullable=False, index=True)
    amount_total: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    checkout_session_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    invoice_stripe_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    subscription_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict, nullable=False)


class OrderItem(TimestampMixin, Base):
    __tablename__ = "order_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("oi"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str | None] = mapped_column(String(100))
    price_stripe_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100), nullable=False)  # plan, domain, booking, credits, custom:x
    quantity: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    unit_amount: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

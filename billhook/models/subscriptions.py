from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.ids import new_id


class Subscription(TimestampMixin, Base):
    """Mirror of a provider subscription (status, period, trial and cancel fields)."""

    __tablename__ = "subscriptions"
    # Covering (PostgreSQL): MRR, subscribers and the /metrics gauges read this index, not rows
    # that carry the provider's JSON.
    __table_args__ = (
        Index("ix_subscriptions_created_at", "created_at"),  # the admin lists, newest first
        Index(
            "ix_subscriptions_analytics",
            "currency",
            "status",
            postgresql_include=[
                "mrr",
                "customer_id",
                "product_id",
                "price_stripe_id",
                "cancel_at_period_end",
                "cancel_at",
            ],
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sub"))
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[str | None] = mapped_column(String(100))
    price_stripe_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    cancel_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trial_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    latest_invoice_stripe_id: Mapped[str | None] = mapped_column(String(255))
    default_payment_method_stripe_id: Mapped[str | None] = mapped_column(String(255))
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    # Its monthly amount after discounts, whatever the status (docs/analytics.md); kept by
    # billhook.subscriptions.mrr with the ledger.
    currency: Mapped[str | None] = mapped_column(String(3))
    mrr: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)

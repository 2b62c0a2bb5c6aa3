from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.ids import new_id


class CheckoutSession(TimestampMixin, Base):
    __tablename__ = "checkout_sessions"
    # Analytics: checkout conversion by plan over the sessions opened in a period.
    __table_args__ = (
        Index(
            "ix_checkout_sessions_created_at",
            "created_at",
            postgresql_include=["product_id", "price_stripe_id", "status", "completed_at"],
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chk"))
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[str | None] = mapped_column(String(100))
    price_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)  # payment | subscription | setup
    status: Mapped[str] = mapped_column(String(20), default="open", nullable=False)
    payment_status: Mapped[str | None] = mapped_column(String(30))
    amount_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.ids import new_id

# An invoice that may have had a failed payment attempt (billhook.analytics.repository).
ATTEMPTED = "attempt_count >= 2 OR status IN ('open', 'uncollectible')"


class Invoice(TimestampMixin, Base):
    __tablename__ = "invoices"
    # Analytics: failed invoices and their recovery over the invoices first seen in a period.
    # Partial: only invoices that may have had a failed attempt (a few percent of them).
    __table_args__ = (
        Index("ix_invoices_created_at", "created_at"),  # the admin lists, newest first
        Index(
            "ix_invoices_attempted_created_at",
            "created_at",
            postgresql_include=["id", "status", "attempt_count", "currency", "amount_due", "paid_at"],
            postgresql_where=text(ATTEMPTED),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inv"))
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(30))
    billing_reason: Mapped[str | None] = mapped_column(String(50))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    amount_remaining: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_payment_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)

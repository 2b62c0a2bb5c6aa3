from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import UTCDateTime
from billhook.kit.ids import new_id


class CancellationRecord(TimestampMixin, Base):
    """Who asked to cancel which subscription, when it ends, and why."""

    __tablename__ = "cancellation_records"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cxl"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)  # user, admin, cli
    reason: Mapped[str | None] = mapped_column(Text)
    at_period_end: Mapped[bool] = mapped_column(default=True, nullable=False)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

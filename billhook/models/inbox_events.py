from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"  # will be retried at next_attempt_at
    DEAD = "dead"  # attempts exhausted; kept for replay


class InboxEvent(Base):
    """A provider event as received: stored before it is answered, processed afterwards."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        Index("ix_inbox_events_due", "status", "next_attempt_at"),
        # Analytics: webhook received -> applied latency over the events processed in a period.
        Index("ix_inbox_events_processed_at", "processed_at", postgresql_include=["status", "received_at"]),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ie"))
    event_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    object_id: Mapped[str | None] = mapped_column(String(255))
    # Events that share an ordering key are applied one at a time (usually the customer id).
    ordering_key: Mapped[str | None] = mapped_column(String(255), index=True)
    api_version: Mapped[str | None] = mapped_column(String(50))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    flag: Mapped[str | None] = mapped_column(String(100))  # e.g. livemode or api_version mismatch
    source: Mapped[str] = mapped_column(String(20), default="webhook", nullable=False)
    provider_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default=InboxStatus.PENDING, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

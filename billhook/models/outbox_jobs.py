from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id


class JobStatus(StrEnum):
    """What ``status`` holds, plus ``RUNNING``, which is derived and never stored.

    A claimed job stays ``pending``; it is running while its lease (``locked_by``,
    ``locked_until`` in the future) is live, see :meth:`OutboxJob.state`. Only finishing
    (``done``) and burying (``dead``) move ``status``: the claim then changes no indexed column
    (PostgreSQL updates the row in place, HOT, with no new index entry) and the pending index
    below holds only the jobs that are not settled.
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


_PENDING = text("status = 'pending'")
_DEAD = text("status = 'dead'")


class OutboxJob(TimestampMixin, Base):
    """A reaction to a state change, written in the same transaction as the change.

    ``key`` is unique: enqueuing the same key twice is a no-op, which is how every effect
    happens once.
    """

    __tablename__ = "outbox_jobs"
    __table_args__ = (
        # The claim's index: only unsettled jobs, so its size follows the backlog, not the table.
        Index("ix_outbox_jobs_pending", "run_after", postgresql_where=_PENDING, sqlite_where=_PENDING),
        # The admin console's dead letters, newest first.
        Index("ix_outbox_jobs_dead", "created_at", "id", postgresql_where=_DEAD, sqlite_where=_DEAD),
        # Analytics: job success rate over the jobs finished in a period.
        Index("ix_outbox_jobs_finished_at", "finished_at", postgresql_include=["status", "type"]),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    key: Mapped[str] = mapped_column(String(400), unique=True, nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.PENDING, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, nullable=False)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def state(self, now: datetime) -> JobStatus:
        """The status to show: a pending job under a live lease is running."""
        if self.status == JobStatus.PENDING and self.locked_until is not None and self.locked_until >= now:
            return JobStatus.RUNNING
        return JobStatus(self.status)

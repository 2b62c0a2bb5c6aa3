"""What fulfilment did: one record per (job type, order item, invoice or payment), domains, plan terms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType, UTCDateTime
from billhook.kit.ids import new_id


class FulfilmentRecord(TimestampMixin, Base):
    """Proof that a fulfilment job did its work; a job that finds its record does nothing.

    Written in the job's own transaction, so the record and the effect commit together.
    """

    __tablename__ = "fulfilment_records"
    __table_args__ = (UniqueConstraint("job_type", "order_item_id", "reference"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ful"))
    job_type: Mapped[str] = mapped_column(String(100), nullable=False)
    order_item_id: Mapped[str] = mapped_column(
        ForeignKey("order_items.id", ondelete="CASCADE"), index=True, nullable=False
    )
    reference: Mapped[str] = mapped_column(String(255), nullable=False)  # invoice or payment id
    outcome: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)


class DomainRegistration(TimestampMixin, Base):
    """A domain registered through a :class:`~billhook.fulfilment.registrars.DomainRegistrar`."""

    __tablename__ = "domain_registrations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dom"))
    domain: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    registrar: Mapped[str] = mapped_column(String(50), nullable=False)
    registrar_reference: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(20), default="active", nullable=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    renewals: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    contacts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)


class PlanTerm(TimestampMixin, Base):
    """The period a paid plan (hosting, membership) is active for; renewals extend ``expires_at``."""

    __tablename__ = "plan_terms"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("term"))
    subscription_stripe_id: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    product_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="active", nullable=False)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewals: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

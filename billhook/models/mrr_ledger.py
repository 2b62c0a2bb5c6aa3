from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base
from billhook.db.types import UTCDateTime
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id


class MrrMovement(Base):
    """One change of a subscription's contribution to MRR, at the provider's effective time.

    ``mrr_*`` is the subscription's paying MRR (0 while trialing or ended); ``amount`` is its monthly
    amount after discounts whatever the state (the trial MRR while trialing). ``customer_mrr_*`` is
    the customer's paying MRR in this currency over all their subscriptions, from which ``kind``
    is classified (new, expansion, contraction, churn, reactivation; trial_started, trial_ended,
    unchanged). Written by :mod:`billhook.subscriptions.mrr` in the mirror's transaction; one row
    per subscription and effective time, so a replayed event finds its row already there.
    """

    __tablename__ = "mrr_ledger"
    __table_args__ = (
        UniqueConstraint("subscription_id", "effective_at"),
        # Covering: a period's movements and series are an index-only scan on PostgreSQL.
        Index(
            "ix_mrr_ledger_currency_effective_at",
            "currency",
            "effective_at",
            postgresql_include=[
                "kind",
                "customer_id",
                "state_before",
                "state_after",
                "mrr_before",
                "mrr_after",
                "customer_mrr_before",
                "customer_mrr_after",
            ],
        ),
        Index("ix_mrr_ledger_customer_chain", "customer_id", "currency", "effective_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("mrr"))
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    plan: Mapped[str | None] = mapped_column(String(100))
    state_before: Mapped[str] = mapped_column(String(20), nullable=False)
    state_after: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mrr_before: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mrr_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_mrr_before: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_mrr_after: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

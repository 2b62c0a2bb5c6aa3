from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from billhook.db.base import Base, TimestampMixin
from billhook.db.types import JSONType
from billhook.kit.ids import new_id


class Product(TimestampMixin, Base):
    """A catalog product; ``id`` is the catalog's own id (e.g. ``premium_sub``)."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    stripe_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20), nullable=False)  # subscription | one_time
    fulfilment: Mapped[str] = mapped_column(String(100), default="plan", nullable=False)
    grants: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)


class Price(TimestampMixin, Base):
    __tablename__ = "prices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("price"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    stripe_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    lookup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    unit_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    interval: Mapped[str | None] = mapped_column(String(10))  # day | week | month | year
    interval_count: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    trial_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)

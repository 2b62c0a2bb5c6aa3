"""Request and response bodies of the checkout API (the seed's shapes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str | None = Field(default=None, max_length=100)
    booking_id: str | None = Field(default=None, max_length=40)
    price_id: str | None = Field(default=None, max_length=255)
    quantity: int = Field(default=1, ge=1, le=100)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    success_url: str | None = Field(default=None, max_length=2000)
    cancel_url: str | None = Field(default=None, max_length=2000)
    # The name to register, for a product whose fulfilment is "domain" (422 otherwise).
    domain: str | None = Field(default=None, max_length=300)


class CheckoutOut(BaseModel):
    session_id: str
    url: str
    checkout_url: str  # the seed's alias of ``url``
    expires_at: datetime | None
    payment_id: str | None = None
    order_id: str | None = None
    amount: int
    currency: str
    reused: bool = False


class CheckoutStatusOut(BaseModel):
    session_id: str
    status: str
    payment_status: str | None
    mode: str
    product_id: str | None
    entitlement_active: bool
    role: str

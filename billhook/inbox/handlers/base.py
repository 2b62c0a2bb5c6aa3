"""What a handler receives, and the rule every handler follows.

A handler reads only ids from the event and re-fetches the object from the provider, then calls
one domain service with the provider's *current* state. See ``billhook/inbox/README.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.audit import Cause
from billhook.customers.service import customer_by_stripe_id
from billhook.errors import NotFound
from billhook.providers.base import PaymentProvider, ProviderEvent


@dataclass
class HandlerContext:
    session: AsyncSession
    provider: PaymentProvider
    event: ProviderEvent
    now: datetime
    alert_email: str | None = None  # BILLHOOK_ALERT_EMAIL: also told of disputes

    @property
    def cause(self) -> Cause:
        event = self.event
        return Cause(actor="webhook", event_id=event.id, event_type=event.type, event_created=event.created)

    @property
    def object_id(self) -> str:
        object_id = self.event.object_id
        if object_id is None:
            raise NotFound(f"event {self.event.id} names no object")
        return object_id

    async def customer_email(self, customer_id: str | None) -> str | None:
        """The address to write to: the mirror's, else the provider's current one."""
        if not customer_id:
            return None
        row = await customer_by_stripe_id(self.session, customer_id)
        if row is not None and row.email:
            return row.email
        try:
            return (await self.provider.get_customer(customer_id)).email
        except NotFound:
            return None


Handler = Callable[[HandlerContext], Awaitable[None]]

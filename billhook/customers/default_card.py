"""A card saved in setup mode becomes the customer's default (``customers.set_default_card``).

Stripe saves the card a setup-mode Checkout (or any SetupIntent) collects but leaves the
customer's ``invoice_settings.default_payment_method`` alone, so renewals would still charge the
old card (https://docs.stripe.com/payments/checkout/subscriptions/update-payment-details). The
``setup_intent.succeeded`` handler requests this job in its transaction; the job tells the
provider, whose ``customer.updated`` then moves the mirror's default as any change does.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.outbox import JobContext, JobRegistry, PermanentJobError, RetryPolicy, enqueue

SET_DEFAULT_CARD = "customers.set_default_card"


async def request_default_card(
    session: AsyncSession, customer_id: str, payment_method_id: str, cause: str
) -> bool:
    """Once per setup intent (``cause``): make ``payment_method_id`` the customer's default."""
    payload = {"customer_id": customer_id, "payment_method_id": payment_method_id}
    return await enqueue(session, SET_DEFAULT_CARD, payload, key=f"default_card:{cause}")


async def set_default_card(ctx: JobContext) -> None:
    actions = ctx.runtime.actions
    if actions is None:
        raise PermanentJobError("no payment provider is configured")
    await actions.set_default_payment_method(
        customer_id=str(ctx.payload["customer_id"]),
        payment_method_id=str(ctx.payload["payment_method_id"]),
        idempotency_key=ctx.key,
    )


def register_jobs(registry: JobRegistry) -> None:
    registry.register(SET_DEFAULT_CARD, set_default_card, RetryPolicy(max_attempts=5))

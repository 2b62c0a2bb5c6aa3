"""A card saved in setup mode becomes the customer's default at the provider (issue #18, 8)."""

from __future__ import annotations

from tests.support.stack import Stack
from tests.support.subscriptions import provider_customer_id, subscribed


async def test_a_card_saved_in_setup_mode_becomes_the_default(stack: Stack) -> None:
    ada = await subscribed(stack, "ada@example.com")
    await stack.settled()
    customer_id = await provider_customer_id(stack, ada)
    v1 = stack.provider.client.v1
    before = (await v1.customers.retrieve_async(customer_id)).invoice_settings.default_payment_method
    setup = await v1.checkout.sessions.create_async(
        {
            "mode": "setup",
            "customer": customer_id,
            "currency": "usd",
            "success_url": f"{stack.root}/account",
            "cancel_url": f"{stack.root}/account",
        }
    )
    assert (await stack.pay(str(setup.url), "5555 5555 5555 4444")).status_code == 303
    saved = (await v1.checkout.sessions.retrieve_async(setup.id, {"expand": ["setup_intent"]})).setup_intent

    async def default_card() -> str | None:
        customer = await v1.customers.retrieve_async(customer_id)
        default = customer.invoice_settings.default_payment_method
        return default if default and default != before else None

    assert await stack.eventually(default_card) == saved.payment_method  # type: ignore[union-attr]

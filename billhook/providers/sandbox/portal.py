"""Billing portal sessions (https://docs.stripe.com/api/customer_portal/sessions) and the portal's
actions: update the card, switch plan (prorations created, shown before confirming), cancel at
period end, resume."""

from __future__ import annotations

import secrets

from . import subscriptions
from .customers import attach
from .ids import new_id
from .invoices import LineSpec
from .params import Params
from .store import Doc, Tx, public
from .subscriptions import ItemChange
from .timers import LIVE_SUBSCRIPTION


async def create_portal_session(tx: Tx, p: Params) -> Doc:
    customer_id = p.require_text("customer")
    await tx.load("customer", customer_id, param="customer")
    session_id = new_id("bps")
    session: Doc = {
        "id": session_id,
        "object": "billing_portal.session",
        "configuration": p.text("configuration"),
        "created": tx.now(),
        "customer": customer_id,
        "customer_account": None,
        "flow": None,
        "livemode": False,
        "locale": p.text("locale"),
        "on_behalf_of": None,
        "return_url": p.text("return_url"),
        "url": f"{tx.config.base_url}/portal/{session_id}",
        "_form_token": secrets.token_urlsafe(24),
    }
    await tx.put(session)
    return session


async def live_subscriptions(tx: Tx, customer_id: str) -> list[Doc]:
    return [
        s for s in await tx.find("subscription", customer=customer_id) if s["status"] in LIVE_SUBSCRIPTION
    ]


async def switchable_prices(tx: Tx, subscription: Doc) -> list[Doc]:
    """Active recurring prices in the subscription's currency, other than the current one."""
    current = {item["price"]["id"] for item in subscription["items"]["data"]}
    return [
        price
        for price in await tx.find("price")
        if price["active"]
        and price["type"] == "recurring"
        and price["currency"] == subscription["currency"]
        and price["id"] not in current
    ]


async def preview_switch(tx: Tx, subscription: Doc, price: Doc) -> list[LineSpec]:
    """The proration lines a switch would create now, computed on a copy (nothing is stored)."""
    draft = public(subscription)
    lines, _ = await subscriptions.plan_change(
        tx, draft, [ItemChange(draft["items"]["data"][0], price, None)], tx.now(), "create_prorations"
    )
    return lines


async def switch(tx: Tx, subscription: Doc, price: Doc) -> None:
    before = public(subscription)
    item = subscription["items"]["data"][0]
    lines, interval_changed = await subscriptions.plan_change(
        tx, subscription, [ItemChange(item, price, None)], tx.now(), "create_prorations"
    )
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)
    if interval_changed:
        await subscriptions.invoice_now(tx, subscription, lines, off_session=False)
    else:
        await subscriptions.record_prorations(tx, subscription, lines)


async def set_cancel_at_period_end(tx: Tx, subscription: Doc, flag: bool) -> None:
    before = public(subscription)
    subscriptions.cancel_at_period_end(subscription, flag, tx.now())
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)


async def replace_card(tx: Tx, customer: Doc, pm: Doc) -> None:
    """The new card becomes the default for the customer and every live subscription."""
    await attach(tx, pm, customer)
    before = public(customer)
    customer["invoice_settings"]["default_payment_method"] = pm["id"]
    await tx.put(customer)
    await tx.emit_update("customer.updated", customer, before)
    for subscription in await live_subscriptions(tx, customer["id"]):
        before = public(subscription)
        subscription["default_payment_method"] = pm["id"]
        await tx.put(subscription)
        await tx.emit_update("customer.subscription.updated", subscription, before)

"""Checkout Sessions (https://docs.stripe.com/api/checkout/sessions) and completing one.

``complete`` is what the hosted page calls once the card has passed (after 3-D Secure if needed):
it creates the customer, attaches the card and makes the subscription, payment or setup, then
emits ``checkout.session.completed`` last, so a receiver that re-fetches finds everything in place.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from . import catalog, payments, setup, subscriptions
from .cards import Decline
from .config import DAY
from .customers import attach, new_customer
from .errors import InvalidRequest, invalid
from .ids import new_id, random_token
from .invoices import LineSpec
from .params import MAX_QUANTITY, Params
from .store import Doc, Tx, public
from .subscriptions import ItemRequest

MODES = ("payment", "subscription", "setup")
MIN_EXPIRY, MAX_EXPIRY = 30 * 60, DAY


async def create_session(tx: Tx, p: Params) -> Doc:
    mode = p.require_text("mode", choices=MODES)
    customer_id, email = p.text("customer"), p.text("customer_email")
    if customer_id and email:
        raise invalid(
            "customer_email", "You may only specify one of these parameters: customer, customer_email."
        )
    if customer_id:
        await tx.load("customer", customer_id, param="customer")
    now = tx.now()
    expires_at = p.integer("expires_at") or now + DAY
    if not now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
            "Checkout Session creation.",
            code="parameter_invalid_integer",
        )
    line_items = await _line_items(tx, p, mode)
    session = _session_doc(
        tx, mode=mode, p=p, line_items=line_items, customer_id=customer_id, email=email, expires_at=expires_at
    )
    await tx.put(session)
    return session


# What every new checkout session starts with: hosted UI, cards only, no tax, shipping or discounts.
SESSION_DEFAULTS: dict[str, Any] = {
    "adaptive_pricing": None,
    "after_expiration": None,
    "allow_promotion_codes": None,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "billing_address_collection": None,
    "client_secret": None,
    "collected_information": None,
    "consent": None,
    "consent_collection": None,
    "currency_conversion": None,
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer_account": None,
    "customer_details": None,
    "discounts": [],
    "integration_identifier": None,
    "invoice": None,
    "invoice_creation": None,
    "livemode": False,
    "managed_payments": None,
    "object": "checkout.session",
    "origin_context": None,
    "payment_intent": None,
    "payment_link": None,
    "payment_method_collection": "always",
    "payment_method_configuration_details": None,
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "payment_status": "unpaid",
    "permissions": None,
    "phone_number_collection": {"enabled": False},
    "recovered_from": None,
    "saved_payment_method_options": None,
    "setup_intent": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "status": "open",
    "submit_type": None,
    "subscription": None,
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "wallet_options": None,
}


def _session_doc(
    tx: Tx,
    *,
    mode: str,
    p: Params,
    line_items: list[Doc],
    customer_id: str | None,
    email: str | None,
    expires_at: int,
) -> Doc:
    session_id = "cs_test_" + random_token(58)
    subtotal = sum(item["amount_total"] for item in line_items)
    currency = line_items[0]["currency"] if line_items else (p.text("currency") or None)
    sub_data, pi_data, si_data = (
        p.sub("subscription_data"),
        p.sub("payment_intent_data"),
        p.sub("setup_intent_data"),
    )
    if sub_data is not None and mode != "subscription":
        raise invalid("subscription_data", "You can only pass `subscription_data` in `subscription` mode.")
    if pi_data is not None and mode != "payment":
        raise invalid("payment_intent_data", "You can only pass `payment_intent_data` in `payment` mode.")
    p.texts("payment_method_types")
    return {
        **copy.deepcopy(SESSION_DEFAULTS),
        "id": session_id,
        "amount_subtotal": subtotal if line_items else None,
        "amount_total": subtotal if line_items else None,
        "cancel_url": p.text("cancel_url"),
        "client_reference_id": p.text("client_reference_id"),
        "created": tx.now(),
        "currency": currency,
        "customer": customer_id,
        "customer_creation": None
        if mode != "payment" or customer_id
        else (p.text("customer_creation", choices=("always", "if_required")) or "if_required"),
        "customer_email": email,
        "expires_at": expires_at,
        "locale": p.text("locale"),
        "metadata": p.metadata() or {},
        "mode": mode,
        "success_url": p.text("success_url"),
        # accepted and shown back; the sandbox has no promotion codes and collects no address
        "allow_promotion_codes": p.flag("allow_promotion_codes"),
        "billing_address_collection": p.text("billing_address_collection", choices=("auto", "required")),
        "ui_mode": p.text("ui_mode", choices=("hosted",)) or "hosted",
        "url": f"{tx.config.base_url}/checkout/{session_id}",
        "_line_items": line_items,
        "_form_token": secrets.token_urlsafe(24),
        "_subscription_data": _subscription_data(sub_data, tx.now()),
        "_payment_intent_data": _intent_data(pi_data),
        "_setup_intent_data": {"metadata": (si_data.metadata() if si_data else None) or {}},
    }


def _subscription_data(p: Params | None, now: int) -> Doc:
    if p is None:
        return {"metadata": {}, "trial_period_days": None, "trial_end": None, "description": None}
    days, end = subscriptions.read_trial(p, now)
    return {
        "metadata": p.metadata() or {},
        "trial_period_days": days,
        "trial_end": end,
        "description": p.text("description"),
    }


def _intent_data(p: Params | None) -> Doc:
    if p is None:
        return {"metadata": {}, "description": None, "setup_future_usage": None, "receipt_email": None}
    return {
        "metadata": p.metadata() or {},
        "description": p.text("description"),
        "setup_future_usage": p.text("setup_future_usage", choices=("off_session", "on_session")),
        "receipt_email": p.text("receipt_email"),
    }


async def _line_items(tx: Tx, p: Params, mode: str) -> list[Doc]:
    requested = p.each("line_items") or []
    if mode == "setup":
        if requested:
            raise invalid("line_items", "You cannot pass `line_items` in `setup` mode.")
        return []
    if not requested:
        raise InvalidRequest(
            "Missing required param: line_items.", code="parameter_missing", param="line_items"
        )
    items = [await _line_item(tx, item) for item in requested]
    recurring = [item for item in items if item["price"]["type"] == "recurring"]
    if mode == "subscription" and not recurring:
        raise invalid(
            "line_items",
            "You must provide at least one recurring price in `subscription` mode when using prices.",
        )
    if mode == "payment" and recurring:
        raise invalid(
            "line_items",
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
        )
    if len({item["currency"] for item in items}) > 1:
        raise invalid("line_items", "All line items must use the same currency.")
    return items


async def _line_item(tx: Tx, p: Params) -> Doc:
    price_id, price_data = p.text("price"), p.sub("price_data")
    if price_id:
        price = await tx.load("price", price_id, param=p.path("price"))
        if not price["active"]:
            raise invalid(
                p.path("price"),
                f"The price specified ({price_id}) is inactive. This field only accepts active prices.",
            )
    elif price_data is not None:
        price = await catalog.inline_price(tx, price_data)
    else:
        raise InvalidRequest(
            f"Missing required param: {p.path('price')}.", code="parameter_missing", param=p.path("price")
        )
    quantity = p.integer("quantity", minimum=1, maximum=MAX_QUANTITY) or 1
    product = await tx.get(price["product"])
    amount = price["unit_amount"] * quantity
    return {
        "id": new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price["currency"],
        "description": product["name"] if product else None,
        "metadata": {},
        "price": public(price),
        "quantity": quantity,
    }


async def load_session(tx: Tx, session_id: str, *, param: str = "session") -> Doc:
    """A session, expired first if its ``expires_at`` has passed (so no clock step is needed for that)."""
    session = await tx.load("checkout.session", session_id, param=param, label="checkout.session")
    if session["status"] == "open" and session["expires_at"] <= tx.now():
        await expire(tx, session)
    return session


async def expire(tx: Tx, session: Doc) -> Doc:
    if session["status"] != "open":
        raise InvalidRequest(
            f"Only Checkout Sessions with a status of `open` can be expired; this one is "
            f"`{session['status']}`.",
            code="checkout_session_unexpected_state",
        )
    session["status"] = "expired"
    session["url"] = None
    await tx.put(session)
    await tx.emit("checkout.session.expired", session)
    return session


async def list_sessions(tx: Tx, p: Params) -> list[Doc]:
    filters = {key: p.text(key) for key in ("customer", "payment_intent", "subscription", "status")}
    return [
        s
        for s in await tx.find("checkout.session")
        if all(value is None or s.get(key) == value for key, value in filters.items())
    ]


# completing a session from the hosted page


async def decline_payment(tx: Tx, session: Doc, pm: Doc, decline: Decline) -> None:
    """A declined card in ``payment`` mode leaves a failed PaymentIntent and charge, as in Stripe;
    the intent belongs to the session's customer when the session was opened for one."""
    if session["mode"] != "payment":
        return
    customer = await tx.get(session["customer"]) if session.get("customer") else None
    intent = await _session_intent(tx, session, customer)
    await payments.confirm(tx, intent, pm, off_session=False)
    session["payment_intent"] = intent["id"]
    await tx.put(session)


async def _session_intent(tx: Tx, session: Doc, customer: Doc | None) -> Doc:
    if session["payment_intent"]:
        intent = await tx.load("payment_intent", session["payment_intent"])
        intent["customer"] = customer["id"] if customer else intent["customer"]
        return intent
    data = session["_payment_intent_data"]
    return await payments.create_intent(
        tx,
        amount=session["amount_total"],
        currency=session["currency"],
        customer=customer["id"] if customer else None,
        metadata=data["metadata"],
        description=data["description"],
        receipt_email=data["receipt_email"],
        setup_future_usage=data["setup_future_usage"],
    )


async def complete(tx: Tx, session: Doc, pm: Doc, email: str | None) -> None:
    """Pay (or set up) and complete an open session; the card has already passed any 3-D Secure step."""
    customer = await _session_customer(tx, session, email)
    if customer is not None and (
        session["mode"] != "payment" or session["_payment_intent_data"]["setup_future_usage"]
    ):
        await attach(tx, pm, customer)
    if session["mode"] == "subscription":
        await _start_subscription(tx, session, customer, pm)
    elif session["mode"] == "payment":
        intent = await _session_intent(tx, session, customer)
        await payments.confirm(tx, intent, pm, off_session=False, authenticated=True)
        session["payment_intent"] = intent["id"]
    else:
        intent = await setup.new_setup_intent(
            tx,
            customer=customer["id"] if customer else None,
            metadata=session["_setup_intent_data"]["metadata"],
        )
        await setup.run_setup(tx, intent, pm, authenticated=True)
        session["setup_intent"] = intent["id"]
    session.update(
        status="complete",
        payment_status=await _payment_status(tx, session),
        customer=customer["id"] if customer else None,
        customer_details=_details(customer, email),
    )
    session.pop("_pending_payment_method", None)
    await tx.put(session)
    await tx.emit("checkout.session.completed", session)


async def _payment_status(tx: Tx, session: Doc) -> str:
    """``no_payment_required`` for setup sessions and free first invoices (trials), else ``paid``."""
    if session["mode"] == "setup":
        return "no_payment_required"
    if session["mode"] == "subscription":
        invoice = await tx.load("invoice", session["invoice"])
        return "paid" if invoice["amount_due"] > 0 else "no_payment_required"
    return "paid"


async def _session_customer(tx: Tx, session: Doc, email: str | None) -> Doc | None:
    if session["customer"]:
        return await tx.load("customer", session["customer"], param="customer")
    if session["mode"] == "payment" and session["customer_creation"] != "always":
        return None
    return await new_customer(tx, email=session["customer_email"] or email)


async def _start_subscription(tx: Tx, session: Doc, customer: Doc | None, pm: Doc) -> None:
    assert customer is not None
    data = session["_subscription_data"]
    trial_end = data["trial_end"]
    if data["trial_period_days"]:
        trial_end = tx.now() + data["trial_period_days"] * DAY
    requests = [
        ItemRequest(item["price"], item["quantity"])
        for item in session["_line_items"]
        if item["price"]["type"] == "recurring"
    ]
    now = tx.now()
    one_time = [
        LineSpec(item["amount_total"], item["description"] or "", now, now, item["price"], item["quantity"])
        for item in session["_line_items"]
        if item["price"]["type"] == "one_time"
    ]
    subscription = await subscriptions.create_subscription(
        tx,
        customer=customer,
        requests=requests,
        default_payment_method=pm["id"],
        trial_end=trial_end,
        metadata=data["metadata"],
        description=data["description"],
        authenticated=True,
        one_time=one_time,
    )
    session["subscription"] = subscription["id"]
    session["invoice"] = subscription["latest_invoice"]


def _details(customer: Doc | None, email: str | None) -> Doc:
    return {
        "address": customer["address"] if customer else None,
        "business_name": None,
        "email": customer["email"] if customer and customer["email"] else email,
        "individual_name": None,
        "name": customer["name"] if customer else None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }

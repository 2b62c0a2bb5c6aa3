"""Customers and card PaymentMethods (https://docs.stripe.com/api/customers, .../payment_methods)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from . import cards
from .errors import CardDeclined, InvalidRequest, ResourceMissing, invalid
from .ids import new_id
from .params import Params, merge_metadata
from .store import Doc, Tx, public
from .test_clocks import load_clock

ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def _address(p: Params | None) -> Doc | None:
    if p is None:
        return None
    return {key: p.text(key) for key in ADDRESS_KEYS}


async def create_customer(tx: Tx, p: Params) -> Doc:
    clock_id = p.text("test_clock")
    if clock_id:  # the customer lives at its clock's time from its creation on
        tx.frozen = (await load_clock(tx, clock_id, param="test_clock"))["frozen_time"]
    customer = await new_customer(
        tx,
        email=p.text("email"),
        name=p.text("name"),
        metadata=p.metadata() or {},
        description=p.text("description"),
        phone=p.text("phone"),
    )
    customer["test_clock"] = clock_id or None
    customer["address"] = _address(p.sub("address"))
    customer["preferred_locales"] = p.texts("preferred_locales") or []
    await tx.put(customer)
    payment_method = p.text("payment_method")
    if payment_method:
        pm = await resolve_payment_method(tx, payment_method, "payment_method")
        await attach(tx, pm, customer)
    settings = p.sub("invoice_settings")
    if settings is not None:
        await _set_default_payment_method(tx, customer, settings)
    return customer


async def new_customer(
    tx: Tx,
    *,
    email: str | None,
    name: str | None = None,
    metadata: dict[str, str] | None = None,
    description: str | None = None,
    phone: str | None = None,
) -> Doc:
    customer: Doc = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": tx.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata or {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    await tx.put(customer)
    await tx.emit("customer.created", customer)
    return customer


async def update_customer(tx: Tx, customer: Doc, p: Params) -> Doc:
    before = public(customer)
    for key in ("email", "name", "description", "phone"):
        if p.has(key):
            customer[key] = p.text(key) or None
    if p.has("address"):
        customer["address"] = _address(p.sub("address"))
    if p.has("preferred_locales"):
        customer["preferred_locales"] = p.texts("preferred_locales") or []
    customer["metadata"] = merge_metadata(customer["metadata"], p.metadata())
    settings = p.sub("invoice_settings")
    if settings is not None:
        await _set_default_payment_method(tx, customer, settings)
    await tx.put(customer)
    await tx.emit_update("customer.updated", customer, before)
    return customer


async def _set_default_payment_method(tx: Tx, customer: Doc, settings: Params) -> None:
    if not settings.has("default_payment_method"):
        return
    pm_id = settings.text("default_payment_method")
    if pm_id:
        pm = await tx.load("payment_method", pm_id, param=settings.path("default_payment_method"))
        if pm["customer"] != customer["id"]:
            raise invalid(
                settings.path("default_payment_method"),
                f"The payment method {pm_id} is not attached to customer {customer['id']}.",
            )
    customer["invoice_settings"]["default_payment_method"] = pm_id or None


async def list_customers(tx: Tx, p: Params) -> list[Doc]:
    email = p.text("email")
    found = await tx.find("customer", lookup=email) if email else await tx.find("customer")
    return [c for c in found if not c.get("deleted")]


# payment methods


async def create_payment_method(tx: Tx, p: Params) -> Doc:
    p.require_text("type", choices=("card",))
    card = p.sub("card")
    if card is None:
        raise InvalidRequest("Missing required param: card.", code="parameter_missing", param="card")
    token = card.text("token")
    if token:
        if token not in cards.MAGIC_IDS:
            raise ResourceMissing("token", token, param="card[token]")
        number, exp_month, exp_year = cards.MAGIC_IDS[token], 12, datetime.now(UTC).year + 3
    else:
        number = card.require_text("number")
        exp_month = card.require_integer("exp_month")
        exp_year = card.require_integer("exp_year")
        card.text("cvc")
    pm = await card_payment_method(tx, number, exp_month, exp_year, param="card[number]")
    details = p.sub("billing_details")
    if details is not None:
        _billing_details(pm, details)
    pm["metadata"] = p.metadata() or {}
    return await tx.put(pm)


def _billing_details(pm: Doc, p: Params) -> None:
    for key in ("email", "name", "phone"):
        if p.has(key):
            pm["billing_details"][key] = p.text(key) or None
    if p.has("address"):
        pm["billing_details"]["address"] = _address(p.sub("address")) or dict.fromkeys(ADDRESS_KEYS)


async def card_payment_method(
    tx: Tx, number: str, exp_month: int, exp_year: int, *, param: str, email: str | None = None
) -> Doc:
    """A card PaymentMethod for a test number; raises Stripe's card errors for bad numbers/dates."""
    card = cards.identify(number)
    if card is None:
        raise CardDeclined(cards.INCORRECT_NUMBER.message, code="incorrect_number", param=param)
    if not 1 <= exp_month <= 12:
        raise CardDeclined(
            "Your card's expiration month is invalid.", code="invalid_expiry_month", param="card[exp_month]"
        )
    if exp_year < 100:
        exp_year += 2000
    if (exp_year, exp_month) < (datetime.now(UTC).year, datetime.now(UTC).month):
        raise CardDeclined(
            "Your card's expiration year is invalid.", code="invalid_expiry_year", param="card[exp_year]"
        )
    digits = cards.normalise(number)
    pm: Doc = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": dict.fromkeys(ADDRESS_KEYS),
            "email": email,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": card.brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": card.brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": cards.fingerprint(digits),
            "funding": "credit",
            "generated_from": None,
            "last4": digits[-4:],
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": tx.now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
        "_behaviour": card.behaviour,
        "_decline": None
        if card.decline is None
        else [card.decline.code, card.decline.decline_code, card.decline.message],
    }
    return await tx.put(pm)


async def resolve_payment_method(tx: Tx, pm_id: str, param: str) -> Doc:
    """A stored PaymentMethod, or a fresh one for Stripe's magic ids such as ``pm_card_visa``."""
    if pm_id in cards.MAGIC_IDS:
        year = datetime.now(UTC).year + 3
        return await card_payment_method(tx, cards.MAGIC_IDS[pm_id], 12, year, param=param)
    return await tx.load("payment_method", pm_id, param=param)


async def attach(tx: Tx, pm: Doc, customer: Doc) -> Doc:
    if pm["customer"] == customer["id"]:
        return pm
    if pm["customer"] is not None:
        raise InvalidRequest(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
        )
    if pm["_behaviour"] == "decline":
        code, decline_code, message = pm["_decline"]
        raise CardDeclined(message, code=code, decline_code=decline_code, param="")
    pm["customer"] = customer["id"]
    await tx.put(pm)
    await tx.emit("payment_method.attached", pm)
    return pm


async def detach(tx: Tx, pm: Doc) -> Doc:
    if pm["customer"] is None:
        raise InvalidRequest(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    customer = await tx.get(pm["customer"])
    if customer is not None and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        before = public(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        await tx.put(customer)
        await tx.emit_update("customer.updated", customer, before)
    pm["customer"] = None
    await tx.put(pm)
    await tx.emit("payment_method.detached", pm)
    return pm


async def update_payment_method(tx: Tx, pm: Doc, p: Params) -> Doc:
    before = public(pm)
    details = p.sub("billing_details")
    if details is not None:
        _billing_details(pm, details)
    card = p.sub("card")
    if card is not None:
        for key in ("exp_month", "exp_year"):
            value = card.integer(key, minimum=1)
            if value is not None:
                pm["card"][key] = value
    pm["metadata"] = merge_metadata(pm["metadata"], p.metadata())
    await tx.put(pm)
    await tx.emit_update("payment_method.updated", pm, before)
    return pm


async def list_payment_methods(tx: Tx, customer_id: str | None, p: Params) -> list[Doc]:
    p.text("type", choices=("card",))
    if customer_id is None:
        customer_id = p.text("customer")
    if customer_id is None:
        return []
    await tx.load("customer", customer_id, param="customer")
    return await tx.find("payment_method", customer=customer_id)

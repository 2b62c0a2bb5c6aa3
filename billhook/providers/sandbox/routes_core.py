"""Routes for the catalog, customers, payment methods, payments, refunds, disputes and setup intents."""

from __future__ import annotations

from . import catalog, customers, disputes, payments, setup
from .api import ApiRouter, Call
from .errors import InvalidRequest, ResourceMissing
from .invoices import settle_intent
from .params import MAX_AMOUNT, merge_metadata
from .render import paginate, view
from .search import search
from .store import Doc, public
from .subscriptions import cancel_now
from .timers import LIVE_SUBSCRIPTION

router = ApiRouter()


# products and prices


@router.route("POST", "/v1/products")
async def create_product(call: Call) -> Doc:
    return view(await catalog.create_product(call.tx, call.params))


@router.route("GET", "/v1/products")
async def list_products(call: Call) -> Doc:
    return paginate(await catalog.list_products(call.tx, call.params), call.params, "/v1/products")


@router.route("GET", "/v1/products/search")
async def search_products(call: Call) -> Doc:
    return await search(call.tx, "product", call.params, "/v1/products/search")


@router.route("GET", "/v1/products/{id}")
async def get_product(call: Call) -> Doc:
    return view(await call.tx.load("product", call.arg("id")))


@router.route("POST", "/v1/products/{id}")
async def update_product(call: Call) -> Doc:
    product = await call.tx.load("product", call.arg("id"))
    return view(await catalog.update_product(call.tx, product, call.params))


@router.route("DELETE", "/v1/products/{id}")
async def delete_product(call: Call) -> Doc:
    product = await call.tx.load("product", call.arg("id"))
    return view(await catalog.delete_product(call.tx, product))


@router.route("POST", "/v1/prices")
async def create_price(call: Call) -> Doc:
    return view(await catalog.create_price(call.tx, call.params))


@router.route("GET", "/v1/prices")
async def list_prices(call: Call) -> Doc:
    return paginate(await catalog.list_prices(call.tx, call.params), call.params, "/v1/prices")


@router.route("GET", "/v1/prices/search")
async def search_prices(call: Call) -> Doc:
    return await search(call.tx, "price", call.params, "/v1/prices/search")


@router.route("GET", "/v1/prices/{id}")
async def get_price(call: Call) -> Doc:
    return view(await call.tx.load("price", call.arg("id")))


@router.route("POST", "/v1/prices/{id}")
async def update_price(call: Call) -> Doc:
    price = await call.tx.load("price", call.arg("id"))
    return view(await catalog.update_price(call.tx, price, call.params))


# customers and payment methods


@router.route("POST", "/v1/customers")
async def create_customer(call: Call) -> Doc:
    return view(await customers.create_customer(call.tx, call.params))


@router.route("GET", "/v1/customers")
async def list_customers(call: Call) -> Doc:
    return paginate(await customers.list_customers(call.tx, call.params), call.params, "/v1/customers")


@router.route("GET", "/v1/customers/search")
async def search_customers(call: Call) -> Doc:
    return await search(call.tx, "customer", call.params, "/v1/customers/search")


@router.route("GET", "/v1/customers/{id}")
async def get_customer(call: Call) -> Doc:
    customer = await call.tx.get(call.arg("id"))
    if customer is None or customer["object"] != "customer":
        raise ResourceMissing("customer", call.arg("id"))
    return view(customer)  # a deleted customer reads back as {"id", "object", "deleted": true}


@router.route("POST", "/v1/customers/{id}")
async def update_customer(call: Call) -> Doc:
    customer = await call.tx.load("customer", call.arg("id"))
    return view(await customers.update_customer(call.tx, customer, call.params))


@router.route("DELETE", "/v1/customers/{id}")
async def delete_customer(call: Call) -> Doc:
    tx = call.tx
    customer = await tx.load("customer", call.arg("id"))
    for subscription in await tx.find("subscription", customer=customer["id"]):
        if subscription["status"] in (*LIVE_SUBSCRIPTION, "incomplete", "unpaid"):
            await cancel_now(tx, subscription)
    await tx.emit("customer.deleted", customer)
    customer["deleted"] = True
    await tx.put(customer)
    return view(customer)


@router.route("GET", "/v1/customers/{id}/payment_methods")
async def list_customer_payment_methods(call: Call) -> Doc:
    found = await customers.list_payment_methods(call.tx, call.arg("id"), call.params)
    return paginate(found, call.params, f"/v1/customers/{call.arg('id')}/payment_methods")


@router.route("POST", "/v1/payment_methods")
async def create_payment_method(call: Call) -> Doc:
    return view(await customers.create_payment_method(call.tx, call.params))


@router.route("GET", "/v1/payment_methods")
async def list_payment_methods(call: Call) -> Doc:
    found = await customers.list_payment_methods(call.tx, None, call.params)
    return paginate(found, call.params, "/v1/payment_methods")


@router.route("GET", "/v1/payment_methods/{id}")
async def get_payment_method(call: Call) -> Doc:
    return view(await customers.resolve_payment_method(call.tx, call.arg("id"), "payment_method"))


@router.route("POST", "/v1/payment_methods/{id}")
async def update_payment_method(call: Call) -> Doc:
    pm = await call.tx.load("payment_method", call.arg("id"), param="payment_method")
    return view(await customers.update_payment_method(call.tx, pm, call.params))


@router.route("POST", "/v1/payment_methods/{id}/attach")
async def attach_payment_method(call: Call) -> Doc:
    tx = call.tx
    pm = await customers.resolve_payment_method(tx, call.arg("id"), "payment_method")
    customer = await tx.load("customer", call.params.require_text("customer"), param="customer")
    return view(await customers.attach(tx, pm, customer))


@router.route("POST", "/v1/payment_methods/{id}/detach")
async def detach_payment_method(call: Call) -> Doc:
    pm = await call.tx.load("payment_method", call.arg("id"), param="payment_method")
    return view(await customers.detach(call.tx, pm))


# payment intents and charges


@router.route("POST", "/v1/payment_intents")
async def create_payment_intent(call: Call) -> Doc:
    tx, p = call.tx, call.params
    customer_id = p.text("customer")
    if customer_id:
        await tx.load("customer", customer_id, param="customer")
    automatic = p.sub("automatic_payment_methods")
    if automatic is not None:
        automatic.flag("enabled")
        automatic.text("allow_redirects", choices=("always", "never"))
    p.texts("payment_method_types")
    intent = await payments.create_intent(
        tx,
        amount=p.require_integer("amount", minimum=1, maximum=MAX_AMOUNT),
        currency=p.require_text("currency").lower(),
        customer=customer_id or None,
        metadata=p.metadata(),
        description=p.text("description"),
        receipt_email=p.text("receipt_email"),
        setup_future_usage=p.text("setup_future_usage", choices=("off_session", "on_session")),
    )
    pm_id = p.text("payment_method")
    if pm_id:
        pm = await customers.resolve_payment_method(tx, pm_id, "payment_method")
        intent.update(payment_method=pm["id"], status="requires_confirmation")
        await tx.put(intent)
    if p.flag("confirm"):
        return await _confirm(call, intent)
    p.text("return_url")
    p.flag("off_session")
    return view(intent)


@router.route("GET", "/v1/payment_intents")
async def list_payment_intents(call: Call) -> Doc:
    customer_id = call.params.text("customer")
    found = (
        await call.tx.find("payment_intent", customer=customer_id)
        if customer_id
        else await call.tx.find("payment_intent")
    )
    return paginate(found, call.params, "/v1/payment_intents")


@router.route("GET", "/v1/payment_intents/{id}")
async def get_payment_intent(call: Call) -> Doc:
    call.params.text("client_secret")
    return view(await call.tx.load("payment_intent", call.arg("id"), param="intent"))


@router.route("POST", "/v1/payment_intents/{id}")
async def update_payment_intent(call: Call) -> Doc:
    tx, p = call.tx, call.params
    intent = await tx.load("payment_intent", call.arg("id"), param="intent")
    before = public(intent)
    if p.has("description"):
        intent["description"] = p.text("description") or None
    if p.has("receipt_email"):
        intent["receipt_email"] = p.text("receipt_email") or None
    amount = p.integer("amount", minimum=1, maximum=MAX_AMOUNT)
    if amount is not None:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise InvalidRequest(
                "This PaymentIntent's amount could not be updated because it has a status of "
                f"{intent['status']}.",
                code="payment_intent_unexpected_state",
                param="amount",
            )
        intent["amount"] = amount
    intent["metadata"] = merge_metadata(intent["metadata"], p.metadata())
    await tx.put(intent)
    await tx.emit_update("payment_intent.updated", intent, before)
    return view(intent)


@router.route("POST", "/v1/payment_intents/{id}/confirm")
async def confirm_payment_intent(call: Call) -> Doc:
    intent = await call.tx.load("payment_intent", call.arg("id"), param="intent")
    return await _confirm(call, intent)


async def _confirm(call: Call, intent: Doc) -> Doc:
    tx, p = call.tx, call.params
    if intent["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise InvalidRequest(
            f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    pm_id = p.text("payment_method") or intent["payment_method"]
    if not pm_id:
        raise InvalidRequest(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
            param="payment_method",
        )
    pm = await customers.resolve_payment_method(tx, pm_id, "payment_method")
    off_session = bool(p.flag("off_session"))
    outcome = await payments.confirm(tx, intent, pm, off_session=off_session, return_url=p.text("return_url"))
    await settle_intent(tx, intent, outcome)
    if outcome.status == "failed":
        raise payments.declined_error(outcome, intent)
    return view(intent)


@router.route("POST", "/v1/payment_intents/{id}/cancel")
async def cancel_payment_intent(call: Call) -> Doc:
    intent = await call.tx.load("payment_intent", call.arg("id"), param="intent")
    reason = call.params.text(
        "cancellation_reason", choices=("duplicate", "fraudulent", "requested_by_customer", "abandoned")
    )
    return view(await payments.cancel_intent(call.tx, intent, reason))


@router.route("GET", "/v1/charges")
async def list_charges(call: Call) -> Doc:
    p = call.params
    customer_id, intent_id = p.text("customer"), p.text("payment_intent")
    found = (
        await call.tx.find("charge", customer=customer_id) if customer_id else await call.tx.find("charge")
    )
    found = [c for c in found if intent_id is None or c["payment_intent"] == intent_id]
    return paginate(found, p, "/v1/charges")


@router.route("GET", "/v1/charges/{id}")
async def get_charge(call: Call) -> Doc:
    return view(await call.tx.load("charge", call.arg("id"), param="charge"))


@router.route("GET", "/v1/charges/{id}/refunds")
async def list_charge_refunds(call: Call) -> Doc:
    charge = await call.tx.load("charge", call.arg("id"), param="charge")
    return paginate(
        await call.tx.find("refund", parent=charge["id"]), call.params, f"/v1/charges/{charge['id']}/refunds"
    )


# refunds and disputes


@router.route("POST", "/v1/refunds")
async def create_refund(call: Call) -> Doc:
    return view(await disputes.create_refund(call.tx, call.params))


@router.route("GET", "/v1/refunds")
async def list_refunds(call: Call) -> Doc:
    return paginate(await disputes.list_refunds(call.tx, call.params), call.params, "/v1/refunds")


@router.route("GET", "/v1/refunds/{id}")
async def get_refund(call: Call) -> Doc:
    return view(await call.tx.load("refund", call.arg("id"), param="refund"))


@router.route("GET", "/v1/disputes")
async def list_disputes(call: Call) -> Doc:
    charge_id = call.params.text("charge")
    found = await call.tx.find("dispute", parent=charge_id) if charge_id else await call.tx.find("dispute")
    return paginate(found, call.params, "/v1/disputes")


@router.route("GET", "/v1/disputes/{id}")
async def get_dispute(call: Call) -> Doc:
    return view(await call.tx.load("dispute", call.arg("id"), param="dispute"))


@router.route("POST", "/v1/disputes/{id}/close")
async def close_dispute(call: Call) -> Doc:
    dispute = await call.tx.load("dispute", call.arg("id"), param="dispute")
    return view(await disputes.close_dispute(call.tx, dispute))


@router.route("POST", "/v1/test_helpers/sandbox/disputes")
async def create_dispute(call: Call) -> Doc:
    """Sandbox helper: open a dispute on any succeeded charge (Stripe only does it via test cards)."""
    p = call.params
    charge = await call.tx.load("charge", p.require_text("charge"), param="charge")
    reason = (
        p.text(
            "reason",
            choices=(
                "fraudulent",
                "duplicate",
                "product_not_received",
                "general",
                "subscription_canceled",
                "unrecognized",
            ),
        )
        or "fraudulent"
    )
    return view(await disputes.open_dispute(call.tx, charge, reason))


# setup intents


@router.route("POST", "/v1/setup_intents")
async def create_setup_intent(call: Call) -> Doc:
    return view(await setup.create_setup_intent(call.tx, call.params))


@router.route("GET", "/v1/setup_intents")
async def list_setup_intents(call: Call) -> Doc:
    customer_id = call.params.text("customer")
    found = (
        await call.tx.find("setup_intent", customer=customer_id)
        if customer_id
        else await call.tx.find("setup_intent")
    )
    return paginate(found, call.params, "/v1/setup_intents")


@router.route("GET", "/v1/setup_intents/{id}")
async def get_setup_intent(call: Call) -> Doc:
    call.params.text("client_secret")
    return view(await call.tx.load("setup_intent", call.arg("id"), param="intent"))


@router.route("POST", "/v1/setup_intents/{id}")
async def update_setup_intent(call: Call) -> Doc:
    intent = await call.tx.load("setup_intent", call.arg("id"), param="intent")
    return view(await setup.update_setup_intent(call.tx, intent, call.params))


@router.route("POST", "/v1/setup_intents/{id}/confirm")
async def confirm_setup_intent(call: Call) -> Doc:
    intent = await call.tx.load("setup_intent", call.arg("id"), param="intent")
    return view(await setup.confirm_setup(call.tx, intent, call.params))


@router.route("POST", "/v1/setup_intents/{id}/cancel")
async def cancel_setup_intent(call: Call) -> Doc:
    intent = await call.tx.load("setup_intent", call.arg("id"), param="intent")
    reason = call.params.text(
        "cancellation_reason", choices=("abandoned", "duplicate", "requested_by_customer")
    )
    return view(await setup.cancel_setup_intent(call.tx, intent, reason))

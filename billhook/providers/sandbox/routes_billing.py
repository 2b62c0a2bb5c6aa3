"""Routes for checkout, the billing portal, subscriptions, invoices, events and webhook endpoints."""

from __future__ import annotations

from . import checkout, invoices, portal, subscriptions, test_clocks
from .api import ApiRouter, Call
from .catalog import inline_price
from .config import DAY
from .customers import resolve_payment_method
from .errors import CardDeclined, InvalidRequest, ResourceMissing, invalid
from .ids import random_token
from .invoices import LineSpec
from .params import MAX_QUANTITY, Params, merge_metadata
from .render import paginate, view
from .store import Doc, Tx, public
from .subscriptions import ItemChange, ItemRequest
from .timers import period_end_of, period_start_of

router = ApiRouter()
CLOSED = ("canceled", "incomplete_expired")


# checkout and portal


@router.route("POST", "/v1/checkout/sessions")
async def create_checkout_session(call: Call) -> Doc:
    return view(await checkout.create_session(call.tx, call.params))


@router.route("GET", "/v1/checkout/sessions")
async def list_checkout_sessions(call: Call) -> Doc:
    return paginate(await checkout.list_sessions(call.tx, call.params), call.params, "/v1/checkout/sessions")


@router.route("GET", "/v1/checkout/sessions/{id}")
async def get_checkout_session(call: Call) -> Doc:
    return view(await checkout.load_session(call.tx, call.arg("id")))


@router.route("GET", "/v1/checkout/sessions/{id}/line_items")
async def list_checkout_line_items(call: Call) -> Doc:
    session = await checkout.load_session(call.tx, call.arg("id"))
    return paginate(session["_line_items"], call.params, f"/v1/checkout/sessions/{session['id']}/line_items")


@router.route("POST", "/v1/checkout/sessions/{id}/expire")
async def expire_checkout_session(call: Call) -> Doc:
    session = await checkout.load_session(call.tx, call.arg("id"))
    return view(await checkout.expire(call.tx, session))


@router.route("POST", "/v1/billing_portal/sessions")
async def create_portal_session(call: Call) -> Doc:
    return view(await portal.create_portal_session(call.tx, call.params))


# subscriptions


async def _requests(tx: Tx, items: list[Params]) -> list[ItemRequest]:
    requests = []
    for item in items:
        price_id, price_data = item.text("price"), item.sub("price_data")
        if price_id:
            price = await tx.load("price", price_id, param=item.path("price"))
        elif price_data is not None:
            price = await inline_price(tx, price_data)
        else:
            raise InvalidRequest(
                f"Missing required param: {item.path('price')}.",
                code="parameter_missing",
                param=item.path("price"),
            )
        requests.append(
            ItemRequest(
                price, item.integer("quantity", minimum=1, maximum=MAX_QUANTITY) or 1, item.metadata()
            )
        )
    return requests


@router.route("POST", "/v1/subscriptions")
async def create_subscription(call: Call) -> Doc:
    tx, p = call.tx, call.params
    customer = await tx.load("customer", p.require_text("customer"), param="customer")
    await test_clocks.live_at_clock(tx, customer)
    items = p.each("items")
    if not items:
        raise InvalidRequest("Missing required param: items.", code="parameter_missing", param="items")
    requests = await _requests(tx, items)
    pm_id = p.text("default_payment_method")
    if pm_id:
        pm = await tx.load("payment_method", pm_id, param="default_payment_method")
        if pm["customer"] != customer["id"]:
            raise invalid(
                "default_payment_method",
                f"The payment method {pm_id} is not attached to customer {customer['id']}.",
            )
    trial_end = _trial_end(tx, p)
    p.text("collection_method", choices=("charge_automatically",))
    p.text("proration_behavior", choices=("create_prorations", "always_invoice", "none"))
    subscription = await subscriptions.create_subscription(
        tx,
        customer=customer,
        requests=requests,
        default_payment_method=pm_id or None,
        trial_end=trial_end,
        metadata=p.metadata() or {},
        description=p.text("description"),
        off_session=bool(p.flag("off_session")),
        payment_behavior=p.text("payment_behavior", choices=subscriptions.PAYMENT_BEHAVIOURS)
        or "allow_incomplete",
    )
    if p.flag("cancel_at_period_end"):
        await portal.set_cancel_at_period_end(tx, subscription, True)
    return view(subscription)


def _trial_end(tx: Tx, p: Params) -> int | None:
    days, end = subscriptions.read_trial(p, tx.now())
    return tx.now() + days * DAY if days else end


@router.route("GET", "/v1/subscriptions")
async def list_subscriptions(call: Call) -> Doc:
    p = call.params
    customer_id, price_id = p.text("customer"), p.text("price")
    status = p.text(
        "status",
        choices=(
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ),
    )
    found = (
        await call.tx.find("subscription", customer=customer_id)
        if customer_id
        else await call.tx.find("subscription")
    )
    if status is None:
        found = [s for s in found if s["status"] not in CLOSED]
    elif status == "ended":
        found = [s for s in found if s["status"] in CLOSED]
    elif status != "all":
        found = [s for s in found if s["status"] == status]
    if price_id:
        found = [s for s in found if any(i["price"]["id"] == price_id for i in s["items"]["data"])]
    return paginate(found, p, "/v1/subscriptions")


@router.route("GET", "/v1/subscriptions/{id}")
async def get_subscription(call: Call) -> Doc:
    return view(await call.tx.load("subscription", call.arg("id")))


async def _changes(tx: Tx, subscription: Doc, items: list[Params]) -> list[ItemChange]:
    by_id = {item["id"]: item for item in subscription["items"]["data"]}
    changes = []
    for item in items:
        item_id = item.text("id")
        if item_id and item_id not in by_id:
            raise ResourceMissing("subscription_item", item_id, param=item.path("id"))
        price_id = item.text("price")
        price = await tx.load("price", price_id, param=item.path("price")) if price_id else None
        if not item_id and price is None:
            raise InvalidRequest(
                f"Missing required param: {item.path('price')}.",
                code="parameter_missing",
                param=item.path("price"),
            )
        changes.append(
            ItemChange(
                by_id.get(item_id or ""),
                price,
                item.integer("quantity", minimum=0, maximum=MAX_QUANTITY),
                bool(item.flag("deleted")),
            )
        )
    return changes


@router.route("POST", "/v1/subscriptions/{id}")
async def update_subscription(call: Call) -> Doc:
    tx, p = call.tx, call.params
    subscription = await tx.load("subscription", call.arg("id"))
    await _at_customer_clock(tx, subscription)
    if subscription["status"] in CLOSED:
        raise InvalidRequest("A canceled subscription can only update its cancellation_details and metadata.")
    before = public(subscription)
    behaviour = p.text("proration_behavior", choices=("create_prorations", "always_invoice", "none"))
    behaviour = behaviour or "create_prorations"
    at = p.integer("proration_date") or tx.now()
    p.text("payment_behavior", choices=subscriptions.PAYMENT_BEHAVIOURS)
    changes = await _changes(tx, subscription, p.each("items") or [])
    await _simple_updates(tx, subscription, p)
    lines: list[LineSpec] = []
    interval_changed = False
    if changes:
        lines, interval_changed = await subscriptions.plan_change(tx, subscription, changes, at, behaviour)
    trial_end = p.text("trial_end")
    if trial_end not in (None, "now"):
        raise invalid("trial_end", "The sandbox supports only trial_end=now when updating a subscription.")
    trial_now = trial_end == "now"
    if trial_now:
        for item in subscription["items"]["data"]:
            item["current_period_end"] = tx.now()
        subscription.update(trial_end=tx.now(), billing_cycle_anchor=tx.now())
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)
    if lines and (interval_changed or behaviour == "always_invoice"):
        await subscriptions.invoice_now(tx, subscription, lines, off_session=bool(p.flag("off_session")))
    elif lines:
        await subscriptions.record_prorations(tx, subscription, lines)
    if trial_now:
        await subscriptions.renew(tx, subscription)
    return view(subscription)


async def _at_customer_clock(tx: Tx, subscription: Doc) -> None:
    customer = await tx.get(subscription["customer"])
    if customer is not None:
        await test_clocks.live_at_clock(tx, customer)


async def _simple_updates(tx: Tx, subscription: Doc, p: Params) -> None:
    subscription["metadata"] = merge_metadata(subscription["metadata"], p.metadata())
    if p.has("description"):
        subscription["description"] = p.text("description") or None
    if p.has("default_payment_method"):
        pm_id = p.text("default_payment_method")
        if pm_id:
            pm = await tx.load("payment_method", pm_id, param="default_payment_method")
            if pm["customer"] != subscription["customer"]:
                raise invalid(
                    "default_payment_method",
                    f"The payment method {pm_id} is not attached to customer {subscription['customer']}.",
                )
        subscription["default_payment_method"] = pm_id or None
    flag = p.flag("cancel_at_period_end")
    if flag is not None:
        subscriptions.cancel_at_period_end(subscription, flag, tx.now())
    details = p.sub("cancellation_details")
    if details is not None:
        subscription["cancellation_details"].update(
            comment=details.text("comment") or None, feedback=details.text("feedback") or None
        )


@router.route("DELETE", "/v1/subscriptions/{id}")
async def cancel_subscription(call: Call) -> Doc:
    tx, p = call.tx, call.params
    subscription = await tx.load("subscription", call.arg("id"))
    await _at_customer_clock(tx, subscription)
    for unsupported in ("invoice_now", "prorate"):
        if p.flag(unsupported):
            raise invalid(unsupported, f"The sandbox does not support {unsupported}=true when canceling.")
    details = p.sub("cancellation_details")
    comment = details.text("comment") if details else None
    feedback = details.text("feedback") if details else None
    return view(await subscriptions.cancel_now(tx, subscription, comment, feedback))


@router.route("GET", "/v1/subscription_items")
async def list_subscription_items(call: Call) -> Doc:
    subscription = await call.tx.load(
        "subscription", call.params.require_text("subscription"), param="subscription"
    )
    return paginate(
        subscription["items"]["data"],
        call.params,
        f"/v1/subscription_items?subscription={subscription['id']}",
    )


# invoices


@router.route("GET", "/v1/invoices")
async def list_invoices(call: Call) -> Doc:
    p = call.params
    customer_id, subscription_id = p.text("customer"), p.text("subscription")
    status = p.text("status", choices=("draft", "open", "paid", "uncollectible", "void"))
    tx = call.tx
    found = await tx.find("invoice", customer=customer_id) if customer_id else await tx.find("invoice")
    found = [
        i
        for i in found
        if (subscription_id is None or i["subscription"] == subscription_id)
        and (status is None or i["status"] == status)
    ]
    return paginate(found, p, "/v1/invoices")


@router.route("POST", "/v1/invoices/create_preview")
async def create_preview(call: Call) -> Doc:
    tx, p = call.tx, call.params
    subscription_id = p.text("subscription")
    if not subscription_id:
        raise InvalidRequest(
            "The sandbox previews invoices of existing subscriptions: pass `subscription`.",
            code="parameter_missing",
            param="subscription",
        )
    subscription = await tx.load("subscription", subscription_id, param="subscription")
    customer = await tx.load("customer", p.text("customer") or subscription["customer"], param="customer")
    details = p.sub("subscription_details") or Params({}, "subscription_details", p.used)
    behaviour = details.text("proration_behavior", choices=("create_prorations", "always_invoice", "none"))
    behaviour = behaviour or "create_prorations"
    at = details.integer("proration_date") or tx.now()
    draft = public(subscription)
    changes = await _changes(tx, draft, details.each("items") or [])
    lines: list[LineSpec] = []
    interval_changed = False
    if changes:
        lines, interval_changed = await subscriptions.plan_change(tx, draft, changes, at, behaviour)
    if details.text("trial_end") == "now" and draft["status"] == "trialing":
        lines, interval_changed = await subscriptions.end_trial_lines(tx, draft, at), True
    pending = await invoices.pending_lines(tx, subscription["id"])
    if interval_changed or (changes and behaviour == "always_invoice"):
        all_lines, period, reason = pending + lines, (at, at), "subscription_update"
    else:
        next_lines = await subscriptions.next_period_lines(tx, draft)
        all_lines = pending + lines + next_lines
        period, reason = (period_start_of(draft), period_end_of(draft)), "upcoming"
    preview = invoices.build_invoice(
        invoice_id="upcoming_" + random_token(24),
        created=tx.now(),
        customer=customer,
        subscription=draft,
        billing_reason=reason,
        lines=all_lines,
        period=period,
        currency=subscription["currency"],
    )
    preview["lines"]["url"] = f"/v1/invoices/{preview['id']}/lines"
    return view(preview)


@router.route("GET", "/v1/invoices/{id}")
async def get_invoice(call: Call) -> Doc:
    return view(await call.tx.load("invoice", call.arg("id"), param="invoice"))


@router.route("GET", "/v1/invoices/{id}/lines")
async def list_invoice_lines(call: Call) -> Doc:
    invoice = await call.tx.load("invoice", call.arg("id"), param="invoice")
    return paginate(invoice["lines"]["data"], call.params, f"/v1/invoices/{invoice['id']}/lines")


@router.route("POST", "/v1/invoices/{id}/finalize")
async def finalize_invoice(call: Call) -> Doc:
    invoice = await call.tx.load("invoice", call.arg("id"), param="invoice")
    call.params.flag("auto_advance")
    return view(await invoices.finalize(call.tx, invoice))


@router.route("POST", "/v1/invoices/{id}/pay")
async def pay_invoice(call: Call) -> Doc:
    tx, p = call.tx, call.params
    invoice = await tx.load("invoice", call.arg("id"), param="invoice")
    pm_id = p.text("payment_method")
    pm = None
    if pm_id:
        pm = await resolve_payment_method(tx, pm_id, "payment_method")
    off_session = p.flag("off_session")
    outcome = await invoices.collect(tx, invoice, off_session=off_session is not False, payment_method=pm)
    if outcome.status == "failed" and outcome.decline is not None:
        raise CardDeclined(
            outcome.decline.message,
            code=outcome.decline.code,
            decline_code=outcome.decline.decline_code,
            charge=outcome.charge["id"] if outcome.charge else None,
        )
    return view(invoice)


@router.route("POST", "/v1/invoices/{id}/void")
async def void_invoice(call: Call) -> Doc:
    invoice = await call.tx.load("invoice", call.arg("id"), param="invoice")
    return view(await invoices.void(call.tx, invoice))


@router.route("POST", "/v1/invoices/{id}/mark_uncollectible")
async def mark_uncollectible(call: Call) -> Doc:
    invoice = await call.tx.load("invoice", call.arg("id"), param="invoice")
    return view(await invoices.mark_uncollectible(call.tx, invoice))


@router.route("GET", "/v1/invoiceitems")
async def list_invoice_items(call: Call) -> Doc:
    p = call.params
    customer_id, pending = p.text("customer"), p.flag("pending")
    found = (
        await call.tx.find("invoiceitem", customer=customer_id)
        if customer_id
        else await call.tx.find("invoiceitem")
    )
    found = [i for i in found if pending is None or (i["invoice"] is None) == pending]
    return paginate(found, p, "/v1/invoiceitems")

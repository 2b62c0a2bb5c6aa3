"""Subscriptions: creation, renewal under the test clock, plan changes with prorations, cancellation.

Billing periods live on the subscription items (``current_period_start``/``_end``), as in Stripe's
current API; all items of a sandbox subscription share one interval and one billing cycle anchor.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import invoices
from .config import DAY
from .errors import CardDeclined, ResourceMissing, invalid
from .ids import new_id
from .invoices import LineSpec
from .lifecycle import end_subscription
from .params import Params
from .periods import format_amount, format_date, next_boundary
from .store import Doc, Tx, public
from .timers import TRIAL_WILL_END_NOTICE, period_end_of, period_start_of

PAYMENT_BEHAVIOURS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)


MAX_TRIAL_DAYS = 730  # Stripe refuses trials longer than two years


def read_trial(p: Params, now: int, *, allow_now: bool = False) -> tuple[int | None, int | None]:
    """``(trial_period_days, trial_end)`` from params, within Stripe's limits; ``trial_end=now``
    (ending a trial on update) is left to the caller."""
    days = p.integer("trial_period_days", minimum=0, maximum=MAX_TRIAL_DAYS)
    raw = p.text("trial_end")
    end = None
    if raw == "now" and allow_now:
        return days or None, None
    if raw:
        end = p.integer("trial_end")
        if end is None or not now < end <= now + MAX_TRIAL_DAYS * DAY:
            raise invalid(
                "trial_end",
                "Invalid timestamp: must be a Unix timestamp in the future, at most two years away.",
                code="parameter_invalid_integer",
            )
    return days or None, end


@dataclass
class ItemRequest:
    price: Doc
    quantity: int = 1
    metadata: dict[str, str] | None = None


def plan_of(price: Doc) -> Doc:
    recurring = price["recurring"] or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": price["metadata"],
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": "licensed",
    }


def item_doc(subscription_id: str, request: ItemRequest, start: int, end: int, created: int) -> Doc:
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": request.metadata or {},
        "plan": plan_of(request.price),
        "price": public(request.price),
        "quantity": request.quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def check_prices(requests: list[ItemRequest], param: str) -> tuple[str, str, int]:
    """Currency and interval shared by all recurring prices (Stripe refuses mixed ones)."""
    shapes = set()
    for request in requests:
        recurring = request.price["recurring"]
        if recurring is None:
            raise invalid(
                param,
                f"The price specified ({request.price['id']}) is not recurring; subscriptions "
                "need recurring prices.",
            )
        shapes.add((request.price["currency"], recurring["interval"], recurring["interval_count"]))
    if len(shapes) != 1:
        raise invalid(param, "All prices on a subscription must have the same currency and billing interval.")
    return shapes.pop()


async def create_subscription(
    tx: Tx,
    *,
    customer: Doc,
    requests: list[ItemRequest],
    default_payment_method: str | None,
    trial_end: int | None,
    metadata: dict[str, str],
    payment_behavior: str = "allow_incomplete",
    off_session: bool = False,
    description: str | None = None,
    authenticated: bool = False,
    one_time: list[LineSpec] | None = None,
) -> Doc:
    """``one_time``: lines billed once on the first invoice (checkout's one-time line items)."""
    currency, interval, count = check_prices(requests, "items")
    now = tx.now()
    sub_id = new_id("sub")
    end = trial_end or next_boundary(now, interval, count, now)
    subscription = _subscription_doc(
        tx,
        sub_id=sub_id,
        customer_id=customer["id"],
        currency=currency,
        metadata=metadata,
        trial_end=trial_end,
    )
    subscription.update(default_payment_method=default_payment_method, description=description)
    subscription["items"]["data"] = [item_doc(sub_id, r, now, end, now) for r in requests]
    await tx.put(subscription)
    await tx.emit("customer.subscription.created", subscription)
    lines = [
        await _period_line(tx, item, trial=trial_end is not None) for item in subscription["items"]["data"]
    ] + (one_time or [])
    invoice = await invoices.create_invoice(
        tx,
        customer=customer,
        subscription=subscription,
        billing_reason="subscription_create",
        lines=lines,
        period=(now, now),
        currency=currency,
    )
    subscription["latest_invoice"] = invoice["id"]
    await tx.put(subscription)
    await invoices.finalize(tx, invoice)
    if payment_behavior == "default_incomplete" and invoice["amount_due"] > 0:
        return subscription
    outcome = await invoices.collect(tx, invoice, off_session=off_session, authenticated=authenticated)
    if outcome.status != "succeeded" and payment_behavior == "error_if_incomplete":
        decline = outcome.decline
        raise CardDeclined(
            decline.message if decline else "This payment requires authentication.",
            code=decline.code if decline else "authentication_required",
            keep_state=False,
        )
    return subscription


# What every new subscription starts with: automatic collection; no taxes, discounts, schedules or pausing.
SUBSCRIPTION_DEFAULTS: dict[str, Any] = {
    "application": None,
    "application_fee_percent": None,
    "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
    "billing_cycle_anchor_config": None,
    "billing_mode": {"flexible": {"proration_discounts": "included"}, "type": "flexible"},
    "billing_schedules": [],
    "billing_thresholds": None,
    "cancel_at": None,
    "cancel_at_period_end": False,
    "canceled_at": None,
    "cancellation_details": {"comment": None, "feedback": None, "reason": None},
    "collection_method": "charge_automatically",
    "customer_account": None,
    "days_until_due": None,
    "default_payment_method": None,
    "default_source": None,
    "default_tax_rates": [],
    "description": None,
    "discounts": [],
    "ended_at": None,
    "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
    "latest_invoice": None,
    "livemode": False,
    "managed_payments": None,
    "next_pending_invoice_item_invoice": None,
    "object": "subscription",
    "on_behalf_of": None,
    "pause_collection": None,
    "payment_settings": {
        "payment_method_options": None,
        "payment_method_types": None,
        "save_default_payment_method": "off",
    },
    "pending_invoice_item_interval": None,
    "pending_setup_intent": None,
    "pending_update": None,
    "schedule": None,
    "test_clock": None,
    "transfer_data": None,
    "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
}


def _subscription_doc(
    tx: Tx, *, sub_id: str, customer_id: str, currency: str, metadata: dict[str, str], trial_end: int | None
) -> Doc:
    now = tx.now()
    return {
        **copy.deepcopy(SUBSCRIPTION_DEFAULTS),
        "id": sub_id,
        "billing_cycle_anchor": trial_end or now,
        "created": now,
        "currency": currency,
        "customer": customer_id,
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "metadata": metadata,
        "start_date": now,
        "status": "trialing" if trial_end else "incomplete",
        "trial_end": trial_end,
        "trial_start": now if trial_end else None,
    }


async def _period_line(tx: Tx, item: Doc, *, trial: bool = False) -> LineSpec:
    price = item["price"]
    product = await tx.get(price["product"])
    name = product["name"] if product else price["product"]
    recurring = price["recurring"]
    if trial:
        description = f"Trial period for {name}"
        amount = 0
    else:
        unit = format_amount(price["unit_amount"], price["currency"])
        # Stripe writes line descriptions with a multiplication sign: "1 × Pro (at $10.00 / month)".  # noqa: RUF003
        description = f"{item['quantity']} × {name} (at {unit} / {recurring['interval']})"  # noqa: RUF001
        amount = price["unit_amount"] * item["quantity"]
    return LineSpec(
        amount,
        description,
        item["current_period_start"],
        item["current_period_end"],
        price,
        item["quantity"],
        item["id"],
    )


# the test clock


async def on_due(tx: Tx, subscription: Doc) -> None:
    """Whatever the test clock owes this subscription now: a trial notice, a cancellation or a renewal."""
    now = tx.now()
    if subscription["status"] == "incomplete":
        await _expire_incomplete(tx, subscription)
        return
    trial_end = subscription["trial_end"]
    if (
        subscription["status"] == "trialing"
        and not subscription.get("_trial_will_end_sent")
        and trial_end
        and trial_end - TRIAL_WILL_END_NOTICE <= now
    ):
        subscription["_trial_will_end_sent"] = True
        await tx.put(subscription)
        await tx.emit("customer.subscription.trial_will_end", subscription)
        return
    cancel_at = subscription["cancel_at"]
    if cancel_at is not None and cancel_at <= now:
        await end_subscription(tx, subscription, "cancellation_requested")
        return
    if period_end_of(subscription) <= now:
        await renew(tx, subscription)


async def _expire_incomplete(tx: Tx, subscription: Doc) -> None:
    """The first invoice stayed unpaid for 23 hours: Stripe voids it and ends the subscription."""
    before = public(subscription)
    invoice = await tx.get(subscription["latest_invoice"]) if subscription["latest_invoice"] else None
    if invoice is not None and invoice["status"] == "open":
        await invoices.void(tx, invoice)
    subscription.update(status="incomplete_expired", ended_at=tx.now())
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)


async def renew(tx: Tx, subscription: Doc) -> None:
    """Start the next period and bill it (``billing_reason=subscription_cycle``), off-session."""
    before = public(subscription)
    previous_start, end = period_start_of(subscription), period_end_of(subscription)
    anchor = subscription["billing_cycle_anchor"]
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = end
        item["current_period_end"] = next_boundary(
            anchor, recurring["interval"], recurring["interval_count"], end
        )
    if subscription["status"] == "trialing":
        subscription["status"] = "active"
    customer = await tx.load("customer", subscription["customer"], param="customer")
    lines = [await _period_line(tx, item) for item in subscription["items"]["data"]]
    invoice = await invoices.create_invoice(
        tx,
        customer=customer,
        subscription=subscription,
        billing_reason="subscription_cycle",
        lines=lines,
        period=(previous_start, end),
        currency=subscription["currency"],
    )
    subscription["latest_invoice"] = invoice["id"]
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)
    await invoices.finalize(tx, invoice)
    await invoices.collect(tx, invoice, off_session=True)


# plan changes


@dataclass
class ItemChange:
    item: Doc | None  # None: a new item
    price: Doc | None  # None: keep the price
    quantity: int | None
    deleted: bool = False


def proration_lines(
    item: Doc, new_price: Doc, new_quantity: int, at: int, names: tuple[str, str]
) -> list[LineSpec]:
    """Credit for the unused rest of the period on the old price, charge for it on the new one."""
    start, end = item["current_period_start"], item["current_period_end"]
    at = min(max(at, start), end)
    fraction = (end - at) / (end - start) if end > start else 0.0
    old_price = item["price"]
    credit = -round(old_price["unit_amount"] * item["quantity"] * fraction)
    debit = round(new_price["unit_amount"] * new_quantity * fraction)
    when = format_date(at)
    lines = []
    if credit:
        lines.append(
            LineSpec(
                credit,
                f"Unused time on {names[0]} after {when}",
                at,
                end,
                old_price,
                item["quantity"],
                item["id"],
                proration=True,
            )
        )
    if debit:
        lines.append(
            LineSpec(
                debit,
                f"Remaining time on {new_quantity} × {names[1]} after {when}",  # noqa: RUF001
                at,
                end,
                new_price,
                new_quantity,
                item["id"],
                proration=True,
            )
        )
    return lines


async def _names(tx: Tx, old: Doc, new: Doc) -> tuple[str, str]:
    old_product, new_product = await tx.get(old["product"]), await tx.get(new["product"])
    return (
        old_product["name"] if old_product else old["product"],
        new_product["name"] if new_product else new["product"],
    )


async def plan_change(
    tx: Tx, subscription: Doc, changes: list[ItemChange], at: int, behaviour: str
) -> tuple[list[LineSpec], bool]:
    """Apply item changes to ``subscription`` (in memory); return proration lines and whether the
    billing interval changed (Stripe then resets the billing cycle anchor and invoices at once).

    A trialing subscription keeps its trial: trial time costs nothing, so there is nothing to
    prorate and no immediate charge, whatever the behaviour; the new price is billed when the
    trial ends, unless the caller ends it too (``trial_end=now``). See "Change prices during a
    trial", https://docs.stripe.com/billing/subscriptions/trials, and "a trial starts or ends"
    among the changes that invoice at once, https://docs.stripe.com/api/subscriptions/update.
    """
    trialing = subscription.get("status") == "trialing"
    if trialing:
        behaviour = "none"
    lines: list[LineSpec] = []
    items = subscription["items"]["data"]
    old_shape = check_prices([ItemRequest(i["price"]) for i in items], "items")
    for change in changes:
        lines += await _apply_change(tx, subscription, change, at, behaviour)
    if not subscription["items"]["data"]:
        raise invalid("items", "A subscription must keep at least one item.")
    new_shape = check_prices([ItemRequest(i["price"]) for i in subscription["items"]["data"]], "items")
    interval_changed = old_shape[1:] != new_shape[1:] and not trialing  # the trial sets the period
    if old_shape[0] != new_shape[0]:
        raise invalid("items", "You cannot change the currency of a subscription.")
    if interval_changed:
        _reset_anchor(subscription, at)
        lines = [line for line in lines if line.amount < 0]
        lines += [await _period_line(tx, item) for item in subscription["items"]["data"]]
    return lines, interval_changed


async def _apply_change(
    tx: Tx, subscription: Doc, change: ItemChange, at: int, behaviour: str
) -> list[LineSpec]:
    items: list[Doc] = subscription["items"]["data"]
    if change.item is None:
        assert change.price is not None
        start, end = period_start_of(subscription), period_end_of(subscription)
        new = item_doc(
            subscription["id"], ItemRequest(change.price, change.quantity or 1), start, end, tx.now()
        )
        items.append(new)
        if behaviour == "none":
            return []
        names = await _names(tx, change.price, change.price)
        return [
            line for line in proration_lines(new, change.price, new["quantity"], at, names) if line.amount > 0
        ]
    item = change.item
    new_price = change.price or item["price"]
    new_quantity = (
        0 if change.deleted else (change.quantity if change.quantity is not None else item["quantity"])
    )
    lines = []
    if behaviour != "none":
        lines = proration_lines(item, new_price, new_quantity, at, await _names(tx, item["price"], new_price))
    if change.deleted:
        items.remove(item)
    else:
        item.update(price=public(new_price), plan=plan_of(new_price), quantity=new_quantity)
    return lines


async def end_trial_lines(tx: Tx, subscription: Doc, at: int) -> list[LineSpec]:
    """A trial ended at ``at`` (``trial_end=now``): a new period starts there, billed in full."""
    _reset_anchor(subscription, at)
    subscription.update(status="active", trial_end=at)
    return [await _period_line(tx, item) for item in subscription["items"]["data"]]


def _reset_anchor(subscription: Doc, at: int) -> None:
    subscription["billing_cycle_anchor"] = at
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        item["current_period_start"] = at
        item["current_period_end"] = next_boundary(at, recurring["interval"], recurring["interval_count"], at)


async def record_prorations(tx: Tx, subscription: Doc, lines: list[LineSpec]) -> None:
    """``create_prorations``: pending invoice items that the next invoice picks up."""
    for line in lines:
        item: Doc = {
            "id": new_id("ii"),
            "object": "invoiceitem",
            "amount": line.amount,
            "currency": subscription["currency"],
            "customer": subscription["customer"],
            "customer_account": None,
            "date": tx.now(),
            "description": line.description,
            "discountable": False,
            "discounts": [],
            "invoice": None,
            "livemode": False,
            "metadata": {},
            "net_amount": line.amount,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription["id"],
                    "subscription_item": line.subscription_item,
                },
            },
            "period": {"start": line.period_start, "end": line.period_end},
            "pricing": None
            if line.price is None
            else {
                "price_details": {"price": line.price["id"], "product": line.price["product"]},
                "type": "price_details",
                "unit_amount_decimal": line.price["unit_amount_decimal"],
            },
            "proration": True,
            "quantity": line.quantity,
            "quantity_decimal": str(line.quantity),
            "tax_rates": [],
            "test_clock": None,
            "_parent": subscription["id"],
            "_subscription_item": line.subscription_item,
        }
        await tx.put(item)
        await tx.emit("invoiceitem.created", item)


async def invoice_now(tx: Tx, subscription: Doc, lines: list[LineSpec], *, off_session: bool) -> Doc:
    """``always_invoice`` (or an interval change): bill the prorations immediately."""
    customer = await tx.load("customer", subscription["customer"], param="customer")
    now = tx.now()
    invoice = await invoices.create_invoice(
        tx,
        customer=customer,
        subscription=subscription,
        billing_reason="subscription_update",
        lines=lines,
        period=(now, now),
        currency=subscription["currency"],
    )
    subscription["latest_invoice"] = invoice["id"]
    await tx.put(subscription)
    await invoices.finalize(tx, invoice)
    await invoices.collect(tx, invoice, off_session=off_session)
    return invoice


def cancel_at_period_end(subscription: Doc, flag: bool, now: int) -> None:
    subscription["cancel_at_period_end"] = flag
    subscription["cancel_at"] = period_end_of(subscription) if flag else None
    subscription["canceled_at"] = now if flag else None
    subscription["cancellation_details"]["reason"] = "cancellation_requested" if flag else None


async def cancel_now(
    tx: Tx, subscription: Doc, comment: str | None = None, feedback: str | None = None
) -> Doc:
    if subscription["status"] in ("canceled", "incomplete_expired"):
        raise ResourceMissing("subscription", subscription["id"])  # Stripe's answer to a second cancel
    details: dict[str, Any] = subscription["cancellation_details"]
    details.update(comment=comment or details["comment"], feedback=feedback or details["feedback"])
    subscription["canceled_at"] = tx.now()
    await end_subscription(tx, subscription, "cancellation_requested")
    return subscription


async def next_period_lines(tx: Tx, subscription: Doc) -> list[LineSpec]:
    """Lines of the next cycle's invoice, one period on from the current one."""
    lines = []
    anchor = subscription["billing_cycle_anchor"]
    for item in subscription["items"]["data"]:
        recurring = item["price"]["recurring"]
        end = item["current_period_end"]
        shifted = dict(
            item,
            current_period_start=end,
            current_period_end=next_boundary(anchor, recurring["interval"], recurring["interval_count"], end),
        )
        lines.append(await _period_line(tx, shifted))
    return lines

"""Invoices: built per billing cycle, finalized, collected, retried (https://docs.stripe.com/api/invoices).

Collection goes through a PaymentIntent (``payments.confirm``); this module turns the outcome into
invoice state and the subscription status that follows from it (paid → active, failed → past_due,
last retry failed → ``config.final_failure_status``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import payments
from .cards import Decline
from .config import DAY
from .errors import InvalidRequest
from .ids import new_id
from .lifecycle import end_subscription
from .payments import Outcome
from .store import Doc, Tx, public

NO_PAYMENT_METHOD = Decline("payment_method_missing", None, "The customer has no default payment method.")


@dataclass
class LineSpec:
    amount: int
    description: str
    period_start: int
    period_end: int
    price: Doc | None
    quantity: int = 1
    subscription_item: str | None = None
    proration: bool = False
    invoice_item: str | None = None


def line_doc(invoice_id: str | None, subscription_id: str | None, spec: LineSpec, currency: str) -> Doc:
    if subscription_id is not None:
        parent: Doc = {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": spec.invoice_item,
                "proration": spec.proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": spec.subscription_item,
            },
        }
    else:
        parent = {
            "type": "invoice_item_details",
            "subscription_item_details": None,
            "invoice_item_details": {
                "invoice_item": spec.invoice_item,
                "proration": spec.proration,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
        }
    price = spec.price
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": spec.amount,
        "currency": currency,
        "description": spec.description,
        "discount_amounts": [],
        "discountable": not spec.proration,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"end": spec.period_end, "start": spec.period_start},
        "pretax_credit_amounts": [],
        "pricing": None
        if price is None
        else {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": spec.quantity,
        "quantity_decimal": str(spec.quantity),
        "subscription": subscription_id,
        "subtotal": spec.amount,
        "taxes": [],
    }


# What every new invoice starts with; the sandbox has no taxes, shipping, credit notes or revisions.
INVOICE_DEFAULTS: dict[str, Any] = {
    "account_country": "US",
    "account_name": "Billhook Sandbox",
    "account_tax_ids": None,
    "amount_overpaid": 0,
    "amount_paid": 0,
    "amount_shipping": 0,
    "application": None,
    "attempt_count": 0,
    "attempted": False,
    "auto_advance": True,
    "automatic_tax": {
        "disabled_reason": None,
        "enabled": False,
        "liability": None,
        "provider": None,
        "status": None,
    },
    "automatically_finalizes_at": None,
    "collection_method": "charge_automatically",
    "custom_fields": None,
    "customer_account": None,
    "customer_shipping": None,
    "customer_tax_exempt": "none",
    "customer_tax_ids": [],
    "default_payment_method": None,
    "default_source": None,
    "default_tax_rates": [],
    "description": None,
    "discounts": [],
    "due_date": None,
    "effective_at": None,
    "ending_balance": None,
    "footer": None,
    "from_invoice": None,
    "hosted_invoice_url": None,
    "invoice_pdf": None,
    "issuer": {"type": "self"},
    "last_finalization_error": None,
    "latest_revision": None,
    "livemode": False,
    "metadata": {},
    "next_payment_attempt": None,
    "number": None,
    "object": "invoice",
    "on_behalf_of": None,
    "payment_settings": {
        "default_mandate": None,
        "payment_method_options": None,
        "payment_method_types": None,
    },
    "post_payment_credit_notes_amount": 0,
    "pre_payment_credit_notes_amount": 0,
    "receipt_number": None,
    "rendering": None,
    "shipping_cost": None,
    "shipping_details": None,
    "statement_descriptor": None,
    "status": "draft",
    "status_transitions": {
        "finalized_at": None,
        "marked_uncollectible_at": None,
        "paid_at": None,
        "voided_at": None,
    },
    "test_clock": None,
    "total_discount_amounts": [],
    "total_pretax_credit_amounts": [],
    "total_taxes": [],
    "webhooks_delivered_at": None,
}


def build_invoice(
    *,
    invoice_id: str | None,
    created: int,
    customer: Doc,
    subscription: Doc | None,
    billing_reason: str,
    lines: list[LineSpec],
    period: tuple[int, int],
    currency: str,
) -> Doc:
    """An invoice document (not stored): draft, totals from ``lines``, customer balance applied."""
    sub_id = subscription["id"] if subscription else None
    line_docs = [line_doc(invoice_id, sub_id, spec, currency) for spec in lines]
    total = sum(line["amount"] for line in line_docs)
    starting = int(customer["balance"])
    due = max(0, total + starting)
    return {
        **copy.deepcopy(INVOICE_DEFAULTS),
        "id": invoice_id,
        "amount_due": due,
        "amount_remaining": due,
        "billing_reason": billing_reason,
        "created": created,
        "currency": currency,
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "lines": {
            "object": "list",
            "data": line_docs,
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "parent": None
        if subscription is None
        else {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": dict(subscription["metadata"]), "subscription": sub_id},
        },
        "period_end": period[1],
        "period_start": period[0],
        "starting_balance": starting,
        "subscription": sub_id,
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "total": total,
        "total_excluding_tax": total,
        "_parent": sub_id,
    }


async def create_invoice(
    tx: Tx,
    *,
    customer: Doc,
    subscription: Doc | None,
    billing_reason: str,
    lines: list[LineSpec],
    period: tuple[int, int],
    currency: str,
) -> Doc:
    """A stored draft invoice, pulling in the subscription's pending invoice items (prorations)."""
    invoice_id = new_id("in")
    if subscription is not None:
        lines = lines + await _claim_pending_items(tx, subscription["id"], invoice_id)
    invoice = build_invoice(
        invoice_id=invoice_id,
        created=tx.now(),
        customer=customer,
        subscription=subscription,
        billing_reason=billing_reason,
        lines=lines,
        period=period,
        currency=currency,
    )
    await tx.put(invoice)
    await tx.emit("invoice.created", invoice)
    return invoice


async def pending_lines(tx: Tx, subscription_id: str) -> list[LineSpec]:
    items = [i for i in await tx.find("invoiceitem", parent=subscription_id) if i["invoice"] is None]
    return [item_line(item, await tx.get(item["pricing"]["price_details"]["price"])) for item in items]


def item_line(item: Doc, price: Doc | None) -> LineSpec:
    return LineSpec(
        item["amount"],
        item["description"],
        item["period"]["start"],
        item["period"]["end"],
        price,
        item["quantity"],
        item["_subscription_item"],
        item["proration"],
        item["id"],
    )


async def _claim_pending_items(tx: Tx, subscription_id: str, invoice_id: str) -> list[LineSpec]:
    specs = []
    for item in await tx.find("invoiceitem", parent=subscription_id):
        if item["invoice"] is None:
            item["invoice"] = invoice_id
            await tx.put(item)
            specs.append(item_line(item, await tx.get(item["pricing"]["price_details"]["price"])))
    return list(reversed(specs))


async def finalize(tx: Tx, invoice: Doc) -> Doc:
    if invoice["status"] != "draft":
        raise InvalidRequest(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    customer = await tx.load("customer", invoice["customer"], param="customer")
    now = tx.now()
    balance_after = invoice["total"] + int(customer["balance"])
    invoice.update(
        number=f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}",
        status="open",
        effective_at=now,
        starting_balance=int(customer["balance"]),
        ending_balance=min(0, balance_after),
        amount_due=max(0, balance_after),
        amount_remaining=max(0, balance_after),
        hosted_invoice_url=f"{tx.config.base_url}/invoice/{invoice['id']}",
    )
    invoice["status_transitions"]["finalized_at"] = now
    before_customer = public(customer)
    customer["next_invoice_sequence"] += 1
    customer["balance"] = min(0, balance_after)
    customer["currency"] = customer["currency"] or invoice["currency"]
    await tx.put(customer)
    if customer["balance"] != before_customer["balance"]:
        await tx.emit_update("customer.updated", customer, before_customer)
    if invoice["amount_due"] > 0:
        intent = await payments.create_intent(
            tx,
            amount=invoice["amount_due"],
            currency=invoice["currency"],
            customer=customer["id"],
            description=_intent_description(invoice["billing_reason"]),
            invoice=invoice["id"],
        )
        invoice["_payment_intent"] = intent["id"]
        invoice["_invoice_payment"] = new_id("inpay")
    await tx.put(invoice)
    await tx.emit("invoice.finalized", invoice)
    return invoice


def _intent_description(reason: str) -> str:
    return {
        "subscription_create": "Subscription creation",
        "subscription_cycle": "Subscription update",
        "subscription_update": "Subscription update",
    }.get(reason, "Payment for Invoice")


async def default_payment_method(tx: Tx, invoice: Doc) -> Doc | None:
    pm_id = None
    if invoice["subscription"]:
        subscription = await tx.get(invoice["subscription"])
        pm_id = subscription["default_payment_method"] if subscription else None
    if pm_id is None:
        customer = await tx.get(invoice["customer"])
        pm_id = customer["invoice_settings"]["default_payment_method"] if customer else None
    return await tx.get(pm_id) if pm_id else None


async def collect(
    tx: Tx, invoice: Doc, *, off_session: bool, payment_method: Doc | None = None, authenticated: bool = False
) -> Outcome:
    """Attempt to pay an open invoice with ``payment_method`` or the default one."""
    if invoice["status"] == "draft":
        await finalize(tx, invoice)
    if invoice["status"] != "open":
        raise InvalidRequest(f"Invoice is already {invoice['status']}.", code="invoice_unexpected_state")
    if invoice["amount_due"] == 0:
        await mark_paid(tx, invoice)
        return Outcome("succeeded")
    pm = payment_method or await default_payment_method(tx, invoice)
    if pm is None:
        outcome = Outcome("failed", None, NO_PAYMENT_METHOD)
    else:
        intent = await tx.load("payment_intent", invoice["_payment_intent"])
        outcome = await payments.confirm(tx, intent, pm, off_session=off_session, authenticated=authenticated)
    await settle(tx, invoice, outcome)
    return outcome


async def settle(tx: Tx, invoice: Doc, outcome: Outcome) -> None:
    """Invoice and subscription state after a payment attempt on the invoice's PaymentIntent."""
    if outcome.status == "succeeded":
        await mark_paid(tx, invoice)
    elif outcome.status == "failed":
        await _record_failure(tx, invoice)
    else:
        invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
        await tx.put(invoice)
        await tx.emit("invoice.payment_action_required", invoice)


async def mark_paid(tx: Tx, invoice: Doc) -> None:
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        attempted=True,
        next_payment_attempt=None,
    )
    if invoice["amount_due"] > 0:
        invoice["attempt_count"] += 1
    invoice["status_transitions"]["paid_at"] = tx.now()
    await tx.put(invoice)
    await tx.emit("invoice.paid", invoice)
    await tx.emit("invoice.payment_succeeded", invoice)
    subscription = await tx.get(invoice["subscription"]) if invoice["subscription"] else None
    if subscription is not None and subscription["status"] in ("incomplete", "past_due", "unpaid"):
        before = public(subscription)
        trial_end = subscription["trial_end"]
        subscription["status"] = "trialing" if trial_end and trial_end > tx.now() else "active"
        await tx.put(subscription)
        await tx.emit_update("customer.subscription.updated", subscription, before)


async def _record_failure(tx: Tx, invoice: Doc) -> None:
    subscription = await tx.get(invoice["subscription"]) if invoice["subscription"] else None
    retryable = subscription is not None and invoice["billing_reason"] != "subscription_create"
    invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
    schedule = tx.config.payment_retry_days
    index = invoice["attempt_count"] - 1
    next_attempt = tx.now() + schedule[index] * DAY if retryable and index < len(schedule) else None
    invoice["next_payment_attempt"] = next_attempt
    await tx.put(invoice)
    await tx.emit("invoice.payment_failed", invoice)
    if (
        subscription is None
        or not retryable
        or subscription["status"] not in ("active", "trialing", "past_due")
    ):
        return
    if next_attempt is None:
        await _give_up(tx, subscription)
        return
    if subscription["status"] != "past_due":
        before = public(subscription)
        subscription["status"] = "past_due"
        await tx.put(subscription)
        await tx.emit_update("customer.subscription.updated", subscription, before)


async def _give_up(tx: Tx, subscription: Doc) -> None:
    """After the last retry: Stripe's "if all retries fail" setting (cancel, or mark unpaid)."""
    if tx.config.final_failure_status == "canceled":
        await end_subscription(tx, subscription, "payment_failed")
        return
    before = public(subscription)
    subscription["status"] = "unpaid"
    await tx.put(subscription)
    await tx.emit_update("customer.subscription.updated", subscription, before)


async def retry(tx: Tx, invoice: Doc) -> None:
    """The test clock reached ``next_payment_attempt``: try the default payment method again."""
    invoice["next_payment_attempt"] = None
    await tx.put(invoice)
    subscription = await tx.get(invoice["subscription"]) if invoice["subscription"] else None
    if subscription is not None and subscription["status"] in ("canceled", "incomplete_expired"):
        return
    await collect(tx, invoice, off_session=True)


async def void(tx: Tx, invoice: Doc) -> Doc:
    _require_status(invoice, ("open", "uncollectible"), "void")
    invoice.update(status="void", next_payment_attempt=None, amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = tx.now()
    await tx.put(invoice)
    await tx.emit("invoice.voided", invoice)
    return invoice


async def mark_uncollectible(tx: Tx, invoice: Doc) -> Doc:
    _require_status(invoice, ("open",), "mark uncollectible")
    invoice.update(status="uncollectible", next_payment_attempt=None)
    invoice["status_transitions"]["marked_uncollectible_at"] = tx.now()
    await tx.put(invoice)
    await tx.emit("invoice.marked_uncollectible", invoice)
    return invoice


def _require_status(invoice: Doc, allowed: tuple[str, ...], action: str) -> None:
    if invoice["status"] not in allowed:
        raise InvalidRequest(
            f"You can only {action} an invoice with status {' or '.join(allowed)}; this one is "
            f"{invoice['status']}.",
            code="invoice_unexpected_state",
        )


async def settle_intent(tx: Tx, intent: Doc, outcome: Outcome) -> None:
    """A PaymentIntent confirmed directly (API or 3-D Secure page) may belong to an invoice."""
    invoice_id: Any = intent.get("_invoice")
    invoice = await tx.get(invoice_id) if invoice_id else None
    if invoice is not None and invoice["status"] == "open":
        await settle(tx, invoice, outcome)

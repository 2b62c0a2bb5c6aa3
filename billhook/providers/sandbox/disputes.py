"""Disputes and Refunds: what happens to a charge after it succeeded."""

from __future__ import annotations

from .config import DAY
from .errors import InvalidRequest, invalid
from .ids import new_id
from .params import Params
from .store import Doc, Tx, public

EVIDENCE_KEYS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


async def open_dispute(tx: Tx, charge: Doc, reason: str = "fraudulent") -> Doc:
    if charge["status"] != "succeeded":
        raise invalid("charge", f"Charge {charge['id']} did not succeed, so it cannot be disputed.")
    if charge["disputed"]:
        raise invalid("charge", f"Charge {charge['id']} is already disputed.", code="charge_disputed")
    evidence: Doc = dict.fromkeys(EVIDENCE_KEYS)
    evidence["enhanced_evidence"] = {}
    dispute: Doc = {
        "id": new_id("du"),
        "object": "dispute",
        "amount": charge["amount"] - charge["amount_refunded"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": tx.now(),
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": tx.now() + 7 * DAY,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": charge["payment_method_details"]["card"]["brand"],
                "case_type": "chargeback",
                "network_reason_code": "10.4",
            },
            "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
        "_parent": charge["id"],
    }
    await tx.put(dispute)
    before = public(charge)
    charge["disputed"] = True
    await tx.put(charge)
    await tx.emit("charge.dispute.created", dispute)
    await tx.emit_update("charge.updated", charge, before)
    return dispute


async def close_dispute(tx: Tx, dispute: Doc) -> Doc:
    if dispute["status"] in ("won", "lost"):
        raise InvalidRequest("This dispute is already closed.", code="dispute_already_closed")
    before = public(dispute)
    dispute["status"] = "lost"
    dispute["evidence_details"]["has_evidence"] = False
    await tx.put(dispute)
    await tx.emit_update("charge.dispute.updated", dispute, before)
    await tx.emit("charge.dispute.closed", dispute)
    return dispute


async def create_refund(tx: Tx, p: Params) -> Doc:
    charge = await _refundable_charge(tx, p)
    remaining = charge["amount"] - charge["amount_refunded"]
    amount = p.integer("amount", minimum=1)
    if remaining <= 0:
        raise InvalidRequest(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if amount is None:
        amount = remaining
    if amount > remaining:
        raise invalid(
            "amount",
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
        )
    if charge["disputed"]:
        raise InvalidRequest(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed"
        )
    refund: Doc = {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": tx.now(),
        "currency": charge["currency"],
        "customer": charge["customer"],
        "customer_account": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": p.metadata() or {},
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": p.text("reason", choices=("duplicate", "fraudulent", "requested_by_customer")),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
        "_parent": charge["id"],
    }
    await tx.put(refund)
    before = public(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["refunds"]["data"].insert(0, public(refund))
    await tx.put(charge)
    await tx.emit("refund.created", refund)
    await tx.emit_update("charge.refunded", charge, before)
    return refund


async def _refundable_charge(tx: Tx, p: Params) -> Doc:
    charge_id, intent_id = p.text("charge"), p.text("payment_intent")
    if charge_id:
        return await tx.load("charge", charge_id, param="charge")
    if intent_id:
        intent = await tx.load("payment_intent", intent_id, param="payment_intent")
        if intent["latest_charge"] is None or intent["status"] != "succeeded":
            raise InvalidRequest(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        return await tx.load("charge", intent["latest_charge"], param="payment_intent")
    raise InvalidRequest(
        "One of the following params should be provided for this request: payment_intent or charge.",
        code="parameter_missing",
        param="charge",
    )


async def list_refunds(tx: Tx, p: Params) -> list[Doc]:
    charge_id, intent_id = p.text("charge"), p.text("payment_intent")
    refunds = await tx.find("refund", parent=charge_id) if charge_id else await tx.find("refund")
    return [r for r in refunds if intent_id is None or r["payment_intent"] == intent_id]

"""PaymentIntents and the Charges they make (https://docs.stripe.com/api/payment_intents).

``confirm`` is where a test card's behaviour decides the outcome. It knows nothing of invoices:
callers that pay an invoice look at the returned ``Outcome`` (see ``invoices.py``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .cards import Decline
from .disputes import open_dispute
from .errors import CardDeclined, InvalidRequest
from .ids import client_secret, new_id
from .store import Doc, Tx, public

AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


@dataclass
class Outcome:
    status: str  # succeeded, requires_action, failed
    charge: Doc | None = None
    decline: Decline | None = None


def card_outcome(pm: Doc, *, off_session: bool) -> str | Decline:
    """``"succeed"``, ``"authenticate"`` or the Decline a test card gives in this situation."""
    behaviour = pm["_behaviour"]
    declined = Decline(*pm["_decline"]) if pm.get("_decline") else None
    if behaviour == "decline" and declined is not None:
        return declined
    if behaviour == "fail_off_session" and off_session and declined is not None:
        return declined
    if behaviour == "always_authenticate":
        return AUTHENTICATION_REQUIRED if off_session else "authenticate"
    if behaviour == "authenticate" and not off_session:
        return "authenticate"
    return "succeed"


# What every new PaymentIntent starts with: cards only, automatic capture, no Connect.
INTENT_DEFAULTS: dict[str, Any] = {
    "amount_capturable": 0,
    "amount_details": {"tip": {}},
    "amount_received": 0,
    "application": None,
    "application_fee_amount": None,
    "automatic_payment_methods": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "capture_method": "automatic",
    "confirmation_method": "automatic",
    "customer_account": None,
    "excluded_payment_method_types": None,
    "last_payment_error": None,
    "latest_charge": None,
    "livemode": False,
    "managed_payments": None,
    "next_action": None,
    "object": "payment_intent",
    "on_behalf_of": None,
    "payment_method": None,
    "payment_method_configuration_details": None,
    "payment_method_options": {
        "card": {
            "installments": None,
            "mandate_options": None,
            "network": None,
            "request_three_d_secure": "automatic",
        }
    },
    "payment_method_types": ["card"],
    "processing": None,
    "review": None,
    "shipping": None,
    "source": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "status": "requires_payment_method",
    "transfer_data": None,
    "transfer_group": None,
}


async def create_intent(
    tx: Tx,
    *,
    amount: int,
    currency: str,
    customer: str | None,
    metadata: dict[str, str] | None = None,
    description: str | None = None,
    receipt_email: str | None = None,
    setup_future_usage: str | None = None,
    invoice: str | None = None,
) -> Doc:
    intent_id = new_id("pi")
    intent: Doc = {
        **copy.deepcopy(INTENT_DEFAULTS),
        "id": intent_id,
        "amount": amount,
        "client_secret": client_secret(intent_id),
        "created": tx.now(),
        "currency": currency,
        "customer": customer,
        "description": description,
        "metadata": metadata or {},
        "receipt_email": receipt_email,
        "setup_future_usage": setup_future_usage,
        "_invoice": invoice,
    }
    await tx.put(intent)
    await tx.emit("payment_intent.created", intent)
    return intent


async def confirm(
    tx: Tx,
    intent: Doc,
    pm: Doc,
    *,
    off_session: bool,
    return_url: str | None = None,
    authenticated: bool = False,
) -> Outcome:
    """Try to pay ``intent`` with ``pm``; leaves the intent and its charge as Stripe would."""
    intent["payment_method"] = pm["id"]
    intent["last_payment_error"] = None
    result = "succeed" if authenticated else card_outcome(pm, off_session=off_session)
    if result == "authenticate":
        intent["status"] = "requires_action"
        intent["next_action"] = authentication_action(tx, intent["id"], return_url)
        await tx.put(intent)
        await tx.emit("payment_intent.requires_action", intent)
        return Outcome("requires_action")
    if isinstance(result, Decline):
        charge = await _charge(tx, intent, pm, result)
        intent["status"] = "requires_payment_method"
        intent["next_action"] = None
        intent["latest_charge"] = charge["id"]
        intent["last_payment_error"] = payment_error(result, charge, pm)
        await tx.put(intent)
        await tx.emit("payment_intent.payment_failed", intent)
        return Outcome("failed", charge, result)
    charge = await _charge(tx, intent, pm, None)
    intent.update(
        status="succeeded", next_action=None, latest_charge=charge["id"], amount_received=intent["amount"]
    )
    await tx.put(intent)
    await tx.emit("payment_intent.succeeded", intent)
    if pm["_behaviour"] == "dispute":
        await open_dispute(tx, charge)
    return Outcome("succeeded", charge)


def authentication_action(tx: Tx, intent_id: str, return_url: str | None) -> Doc:
    url = f"{tx.config.base_url}/authenticate/{intent_id}"
    if return_url:
        url += "?return_url=" + quote(return_url, safe="")
    return {"type": "redirect_to_url", "redirect_to_url": {"url": url, "return_url": return_url}}


def payment_error(decline: Decline, charge: Doc | None, pm: Doc) -> Doc:
    error: Doc = {
        "type": "card_error",
        "code": decline.code,
        "decline_code": decline.decline_code,
        "message": decline.message,
        "doc_url": f"https://docs.stripe.com/error-codes/{decline.code.replace('_', '-')}",
        "payment_method": public(pm),
    }
    if charge is not None:
        error["charge"] = charge["id"]
    return error


def declined_error(outcome: Outcome, intent: Doc) -> CardDeclined:
    """The 402 a confirm call answers with; the failed state it describes is kept (Stripe keeps it)."""
    assert outcome.decline is not None
    return CardDeclined(
        outcome.decline.message,
        code=outcome.decline.code,
        decline_code=outcome.decline.decline_code,
        charge=outcome.charge["id"] if outcome.charge else None,
        payment_intent=public(intent),
    )


# What every charge starts with: no Connect, application fees or balance transactions.
CHARGE_DEFAULTS: dict[str, Any] = {
    "amount_refunded": 0,
    "application": None,
    "application_fee": None,
    "application_fee_amount": None,
    "balance_transaction": None,
    "calculated_statement_descriptor": "BILLHOOK SANDBOX",
    "disputed": False,
    "failure_balance_transaction": None,
    "fraud_details": {},
    "livemode": False,
    "object": "charge",
    "on_behalf_of": None,
    "receipt_number": None,
    "refunded": False,
    "review": None,
    "shipping": None,
    "source": None,
    "source_transfer": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
    "transfer_data": None,
    "transfer_group": None,
}


async def _charge(tx: Tx, intent: Doc, pm: Doc, decline: Decline | None) -> Doc:
    succeeded = decline is None
    charge_id = new_id("ch")
    charge: Doc = {
        **copy.deepcopy(CHARGE_DEFAULTS),
        "id": charge_id,
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "billing_details": pm["billing_details"],
        "captured": succeeded,
        "created": tx.now(),
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "metadata": dict(intent["metadata"]),
        "outcome": _outcome(decline),
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": pm["id"],
        "payment_method_details": {"card": _card_details(pm, intent["amount"]), "type": "card"},
        "receipt_email": intent["receipt_email"],
        "receipt_url": f"{tx.config.base_url}/receipts/{charge_id}",
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": "succeeded" if succeeded else "failed",
        "_parent": intent["id"],
    }
    await tx.put(charge)
    await tx.emit("charge.succeeded" if succeeded else "charge.failed", charge)
    return charge


def _outcome(decline: Decline | None) -> Doc:
    if decline is None:
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    return {
        "advice_code": "try_again_later",
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network",
        "reason": decline.decline_code,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def _card_details(pm: Doc, amount: int) -> Doc:
    card = pm["card"]
    return {
        "amount_authorized": amount,
        "authorization_code": None,
        "brand": card["brand"],
        "checks": card["checks"],
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "installments": None,
        "last4": card["last4"],
        "mandate": None,
        "network": card["brand"],
        "network_token": {"used": False},
        "network_transaction_id": None,
        "regulated_status": card["regulated_status"],
        "three_d_secure": None,
        "wallet": None,
    }


async def cancel_intent(tx: Tx, intent: Doc, reason: str | None) -> Doc:
    if intent["status"] in ("succeeded", "canceled"):
        raise InvalidRequest(
            f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            "requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
            code="payment_intent_unexpected_state",
        )
    intent.update(status="canceled", canceled_at=tx.now(), cancellation_reason=reason, next_action=None)
    await tx.put(intent)
    await tx.emit("payment_intent.canceled", intent)
    return intent

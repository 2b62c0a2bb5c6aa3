"""SetupIntents: save a card for later off-session use (https://docs.stripe.com/api/setup_intents)."""

from __future__ import annotations

from .cards import Decline
from .customers import attach, resolve_payment_method
from .errors import CardDeclined, InvalidRequest
from .ids import client_secret, new_id
from .params import Params, merge_metadata
from .payments import authentication_action, card_outcome, payment_error
from .store import Doc, Tx, public


async def create_setup_intent(tx: Tx, p: Params) -> Doc:
    customer_id = p.text("customer")
    if customer_id:
        await tx.load("customer", customer_id, param="customer")
    p.texts("payment_method_types")
    intent = await new_setup_intent(
        tx,
        customer=customer_id or None,
        metadata=p.metadata() or {},
        usage=p.text("usage", choices=("off_session", "on_session")) or "off_session",
        description=p.text("description"),
    )
    pm_id = p.text("payment_method")
    if pm_id:
        pm = await resolve_payment_method(tx, pm_id, "payment_method")
        intent["payment_method"] = pm["id"]
        intent["status"] = "requires_confirmation"
        await tx.put(intent)
    if p.flag("confirm"):
        await confirm_setup(tx, intent, p)
    else:
        p.text("return_url")
    return intent


async def new_setup_intent(
    tx: Tx,
    *,
    customer: str | None,
    metadata: dict[str, str],
    usage: str = "off_session",
    description: str | None = None,
) -> Doc:
    intent_id = new_id("seti")
    intent: Doc = {
        "id": intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": client_secret(intent_id),
        "created": tx.now(),
        "customer": customer,
        "description": description,
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": usage,
    }
    await tx.put(intent)
    await tx.emit("setup_intent.created", intent)
    return intent


async def confirm_setup(tx: Tx, intent: Doc, p: Params) -> Doc:
    if intent["status"] in ("succeeded", "canceled"):
        raise InvalidRequest(
            f"You cannot confirm this SetupIntent because it has a status of {intent['status']}.",
            code="setup_intent_unexpected_state",
        )
    pm_id = p.text("payment_method") or intent["payment_method"]
    if not pm_id:
        raise InvalidRequest(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
            param="payment_method",
        )
    pm = await resolve_payment_method(tx, pm_id, "payment_method")
    outcome = await run_setup(tx, intent, pm, return_url=p.text("return_url"))
    if isinstance(outcome, Decline):
        raise CardDeclined(
            outcome.message, code=outcome.code, decline_code=outcome.decline_code, setup_intent=public(intent)
        )
    return intent


async def run_setup(
    tx: Tx, intent: Doc, pm: Doc, *, return_url: str | None = None, authenticated: bool = False
) -> str | Decline:
    """Set ``pm`` up for off-session use: succeeded, requires_action (3-D Secure) or a Decline."""
    intent["payment_method"] = pm["id"]
    intent["last_setup_error"] = None
    result = "succeed" if authenticated else card_outcome(pm, off_session=False)
    if isinstance(result, Decline) and pm["_behaviour"] == "fail_off_session":
        result = "succeed"  # 0341 saves fine; only its later charges fail
    if result == "authenticate":
        intent["status"] = "requires_action"
        intent["next_action"] = authentication_action(tx, intent["id"], return_url)
        await tx.put(intent)
        await tx.emit("setup_intent.requires_action", intent)
        return "requires_action"
    if isinstance(result, Decline):
        intent["status"] = "requires_payment_method"
        intent["last_setup_error"] = payment_error(result, None, pm)
        await tx.put(intent)
        await tx.emit("setup_intent.setup_failed", intent)
        return result
    if intent["customer"]:
        customer = await tx.load("customer", intent["customer"], param="customer")
        await attach(tx, pm, customer)
    intent.update(status="succeeded", next_action=None)
    await tx.put(intent)
    await tx.emit("setup_intent.succeeded", intent)
    return "succeeded"


async def update_setup_intent(tx: Tx, intent: Doc, p: Params) -> Doc:
    before = public(intent)
    intent["metadata"] = merge_metadata(intent["metadata"], p.metadata())
    if p.has("description"):
        intent["description"] = p.text("description") or None
    await tx.put(intent)
    await tx.emit_update("setup_intent.updated", intent, before)
    return intent


async def cancel_setup_intent(tx: Tx, intent: Doc, reason: str | None) -> Doc:
    if intent["status"] in ("succeeded", "canceled"):
        raise InvalidRequest(
            f"You cannot cancel this SetupIntent because it has a status of {intent['status']}.",
            code="setup_intent_unexpected_state",
        )
    intent.update(status="canceled", cancellation_reason=reason, next_action=None)
    await tx.put(intent)
    await tx.emit("setup_intent.canceled", intent)
    return intent

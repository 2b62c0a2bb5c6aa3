"""What the API returns: private keys stripped, ``expand[]`` applied, lists paginated."""

from __future__ import annotations

from typing import Any

from .errors import ResourceMissing, invalid
from .params import Params
from .store import Doc, Tx, public


def view(doc: Doc) -> Doc:
    """The public form of a stored document; deleted objects show only Stripe's tombstone."""
    if doc.get("deleted"):
        return {"id": doc["id"], "object": doc["object"], "deleted": True}
    return public(doc)


async def expand(tx: Tx, body: Doc, paths: list[str]) -> Doc:
    for path in paths:
        await _expand(tx, body, path.split("."), path)
    return body


async def _expand(tx: Tx, node: Doc, parts: list[str], path: str) -> None:
    head, rest = parts[0], parts[1:]
    if head in node:
        value = node[head]
    else:
        value = await _included(tx, node, head, path)
    if isinstance(value, str):
        target = await tx.get(value)
        if target is None:
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        value = view(target)
    node[head] = value
    if not rest or value is None:
        return
    children = value if isinstance(value, list) else [value]
    for child in children:
        if not isinstance(child, dict):
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        await _expand(tx, child, rest, path)


async def _included(tx: Tx, node: Doc, field: str, path: str) -> Any:
    """Fields Stripe leaves out unless asked for with ``expand[]`` (they are "includable")."""
    kind = node.get("object")
    stored = await tx.get(str(node["id"])) if node.get("id") else None
    if kind == "invoice" and field in ("confirmation_secret", "payments"):
        intent_id = stored.get("_payment_intent") if stored else None
        intent = await tx.get(intent_id) if intent_id else None
        if field == "confirmation_secret":
            return (
                None
                if intent is None
                else {"client_secret": intent["client_secret"], "type": "payment_intent"}
            )
        payments = [] if stored is None or intent is None else [invoice_payment(stored, intent)]
        return list_body(payments, f"/v1/invoice_payments?invoice={node['id']}")
    if kind == "checkout.session" and field == "line_items" and stored is not None:
        return list_body(stored["_line_items"], f"/v1/checkout/sessions/{node['id']}/line_items")
    raise invalid("expand", f"This property cannot be expanded ({path}).")


def invoice_payment(invoice: Doc, intent: Doc) -> Doc:
    paid = invoice["status"] == "paid"
    return {
        "id": invoice["_invoice_payment"],
        "object": "invoice_payment",
        "amount_paid": invoice["amount_paid"] if paid else None,
        "amount_requested": intent["amount"],
        "created": intent["created"],
        "currency": intent["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
        "status": "paid" if paid else "open",
        "status_transitions": {"canceled_at": None, "paid_at": invoice["status_transitions"]["paid_at"]},
    }


def list_body(data: list[Doc], url: str, has_more: bool = False) -> Doc:
    return {"object": "list", "data": [view(d) for d in data], "has_more": has_more, "url": url}


def paginate(docs: list[Doc], p: Params, url: str) -> Doc:
    """Stripe's cursor pagination over newest-first ``docs``."""
    limit = p.integer("limit", minimum=1) or 10
    if limit > 100:
        raise invalid(
            "limit", "This value must be less than or equal to 100.", code="parameter_invalid_integer"
        )
    after, before = p.text("starting_after"), p.text("ending_before")
    ids = [d["id"] for d in docs]
    if after:
        start = _position(ids, after, "starting_after") + 1
        window, has_more = docs[start : start + limit], len(docs) > start + limit
    elif before:
        end = _position(ids, before, "ending_before")
        start = max(0, end - limit)
        window, has_more = docs[start:end], start > 0
    else:
        window, has_more = docs[:limit], len(docs) > limit
    return list_body(window, url, has_more)


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise ResourceMissing("object", cursor, param=param) from None

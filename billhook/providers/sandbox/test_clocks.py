"""Stripe's test clocks (https://docs.stripe.com/billing/testing/test-clocks/api-advanced-usage).

A test clock has a ``frozen_time``; customers created with ``test_clock`` live at that time:
their objects are created at it and their renewals, retries, trial ends and expiries run only
when that clock is advanced (:func:`scheduler.advance_clock`), each at the moment it falls due,
as ``billhook sandbox advance`` does for everything else (which in turn leaves clock customers
alone). Advancing runs synchronously, so the clock is ``ready`` again when the call returns.

Shapes follow the API's ``test_helpers.test_clock`` object (``../shared/stripe/fixtures3.json``).
"""

from __future__ import annotations

from .config import DAY
from .errors import ResourceMissing
from .ids import new_id
from .params import Params
from .store import Doc, Tx

KIND = "test_helpers.test_clock"
LIFETIME = 30 * DAY  # Stripe deletes a clock 30 days after it was created


async def create_clock(tx: Tx, p: Params) -> Doc:
    frozen_time = p.require_integer("frozen_time", minimum=0)
    created = tx.store.now()
    clock: Doc = {
        "id": new_id("clock"),
        "object": KIND,
        "created": created,
        "deletes_after": created + LIFETIME,
        "frozen_time": frozen_time,
        "livemode": False,
        "name": p.text("name"),
        "status": "ready",
        "status_details": {},
    }
    return await tx.put(clock)


async def load_clock(tx: Tx, clock_id: str, *, param: str = "id") -> Doc:
    clock = await tx.get(clock_id)
    if clock is None or clock["object"] != KIND or clock.get("deleted"):
        raise ResourceMissing("test_clock", clock_id, param=param)
    return clock


async def list_clocks(tx: Tx) -> list[Doc]:
    return [clock for clock in await tx.find(KIND) if not clock.get("deleted")]


async def delete_clock(tx: Tx, clock: Doc) -> Doc:
    clock["deleted"] = True
    await tx.put(clock)
    return {"id": clock["id"], "object": KIND, "deleted": True}


async def live_at_clock(tx: Tx, customer: Doc) -> None:
    """Act at the customer's clock time from here on in this transaction (no clock: sandbox time)."""
    clock_id = customer.get("test_clock")
    if clock_id:
        tx.frozen = (await load_clock(tx, clock_id, param="customer"))["frozen_time"]

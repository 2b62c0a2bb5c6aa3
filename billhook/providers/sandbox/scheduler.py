"""The sandbox's clock: a sandbox-wide offset added to wall time, persisted in ``sandbox_state``;
and Stripe's test clocks, each with its own frozen time for the customers attached to it. Time
also passes by itself: :func:`settle`, every few seconds, acts on what real time made due.

Advancing walks forward through every due object in time order (``timers.due_at``), setting the
clock to that moment before acting, so events carry the times at which they would have happened.
The sandbox's clock leaves test-clock customers alone; a test clock moves only its own.
"""

from __future__ import annotations

from . import checkout, invoices, subscriptions, test_clocks
from .errors import StripeError, invalid
from .store import Doc, Store, Tx
from .timers import due_at

MAX_STEPS = 10_000


async def advance(store: Store, seconds: int) -> int:
    """Move sandbox time forward by ``seconds``, running renewals, retries, trial ends and expiries."""
    if seconds < 0:
        raise StripeError("The test clock only moves forward.")
    target = store.now() + seconds
    async with store.transaction() as tx:
        clocked = await clocked_customers(tx)  # their test clocks move them, not this clock
    for _ in range(MAX_STEPS):
        async with store.transaction() as tx:
            doc = await tx.next_due(target, skip=clocked)
            if doc is None:
                await _set_now(tx, target)
                await tx.purge_events()
                return target
            due = _due_of(doc)
            if due > tx.now():
                await _set_now(tx, due)
            await run_due(tx, doc)
    raise StripeError("The test clock found too many due objects; is something rescheduling itself?")


async def settle(store: Store) -> int:
    """Act on what fell due as real time passed, as Stripe does on its own: an open Checkout
    Session expires at its ``expires_at``, a renewal or retry runs at its time. The clock is not
    moved; each object acts at its own due moment (``Tx.frozen``), as :func:`advance` would
    have it. Test-clock customers are left to their clocks. Returns how many objects acted."""
    for acted in range(MAX_STEPS):
        async with store.transaction() as tx:
            if await tx.next_due(tx.now()) is None:  # the usual tick: one indexed read, no customers
                return acted
            # Read in the same transaction: a customer put on a test clock meanwhile (its objects
            # are due by the clock's frozen time, often long past) is never acted on here.
            doc = await tx.next_due(tx.now(), skip=await clocked_customers(tx))
            if doc is None:
                return acted
            tx.frozen = _due_of(doc)
            await run_due(tx, doc)
    raise StripeError("The sandbox found too many due objects; is something rescheduling itself?")


async def clocked_customers(tx: Tx, clock_id: str | None = None) -> set[str]:
    """Customers attached to a test clock (to ``clock_id`` when given)."""
    return {
        customer["id"]
        for customer in await tx.find("customer")
        if customer.get("test_clock") and (clock_id is None or customer["test_clock"] == clock_id)
    }


async def advance_clock(store: Store, clock_id: str, frozen_time: int) -> Doc:
    """Move one clock to ``frozen_time``, running its customers' due objects in time order."""
    async with store.transaction() as tx:
        clock = await test_clocks.load_clock(tx, clock_id)
        if frozen_time <= clock["frozen_time"]:
            raise invalid(
                "frozen_time",
                f"The test clock's frozen_time can only move forward: it is {clock['frozen_time']}.",
            )
        customers = await clocked_customers(tx, clock_id)
        moment = clock["frozen_time"]
    for _ in range(MAX_STEPS):
        async with store.transaction() as tx:
            doc = await tx.next_due(frozen_time, only=customers) if customers else None
            clock = await test_clocks.load_clock(tx, clock_id)
            if doc is None:
                clock.update(frozen_time=frozen_time, status="ready", status_details={})
                return await tx.put(clock)
            moment = max(moment, _due_of(doc))
            tx.frozen = moment
            clock["frozen_time"] = moment
            await tx.put(clock)
            await run_due(tx, doc)
    raise invalid("frozen_time", "The test clock found too many due objects; is one rescheduling itself?")


def _due_of(doc: Doc) -> int:
    value = due_at(doc)
    assert value is not None
    return value


async def _set_now(tx: Tx, moment: int) -> None:
    offset = tx.store.clock_offset + max(0, moment - tx.now())
    tx.store.clock_offset = offset
    await tx.set_state("clock_offset", offset)


async def run_due(tx: Tx, doc: Doc) -> None:
    kind = doc["object"]
    if kind == "subscription":
        await subscriptions.on_due(tx, doc)
    elif kind == "invoice":
        await invoices.retry(tx, doc)
    elif kind == "checkout.session":
        await checkout.expire(tx, doc)
    await _ensure_progress(tx, doc)


async def _ensure_progress(tx: Tx, doc: Doc) -> None:
    due = due_at(doc)
    if due is not None and due <= tx.now():
        raise StripeError(f"{doc['id']} is still due after the clock acted on it.")

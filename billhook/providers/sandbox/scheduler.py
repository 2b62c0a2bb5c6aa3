"""The test clock: a sandbox-wide offset added to wall time, persisted in ``sandbox_state``.

Advancing walks forward through every due object in time order (``timers.due_at``), setting the
clock to that moment before acting, so events carry the times at which they would have happened.
"""

from __future__ import annotations

from . import checkout, invoices, subscriptions
from .errors import StripeError
from .store import Doc, Store, Tx
from .timers import due_at

MAX_STEPS = 10_000


async def advance(store: Store, seconds: int) -> int:
    """Move sandbox time forward by ``seconds``, running renewals, retries, trial ends and expiries."""
    if seconds < 0:
        raise StripeError("The test clock only moves forward.")
    target = store.now() + seconds
    for _ in range(MAX_STEPS):
        async with store.transaction() as tx:
            doc = await tx.next_due(target)
            if doc is None:
                await _set_now(tx, target)
                await tx.purge_events()
                return target
            due = _due_of(doc)
            if due > tx.now():
                await _set_now(tx, due)
            await run_due(tx, doc)
    raise StripeError("The test clock found too many due objects; is something rescheduling itself?")


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

"""Recovery: store every provider event the inbox lacks (missed or dropped deliveries).

Pages through the provider's events API (newest first, ``starting_after``) from ``since``; what
is already stored is left alone (insert-if-absent on the event id), so running it twice, or
beside the webhook receiver, never doubles anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billhook.errors import BillhookError
from billhook.inbox.envelope import mismatch_flag, read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.logging import get_logger
from billhook.providers.base import PaymentProvider
from billhook.runtime import Runtime

log = get_logger(__name__)
MAX_PAGES = 1000  # 100k events: a bound, so a misbehaving provider cannot keep us paging forever


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    seen: int
    stored: int
    pages: int


def _provider(runtime: Runtime) -> PaymentProvider:
    if runtime.provider is None:
        raise BillhookError("no payment provider is configured for this process")
    return runtime.provider


async def reconcile(runtime: Runtime, since: datetime | timedelta) -> ReconcileReport:
    """Store the events created since ``since`` (a time, or a span back from now) that are missing."""
    provider = _provider(runtime)
    start = runtime.clock.now() - since if isinstance(since, timedelta) else since
    expected_livemode = (runtime.settings.stripe_secret_key or "").startswith("sk_live_")
    expected_version = getattr(provider, "api_version", None)
    seen = stored = pages = 0
    cursor: str | None = None
    while pages < MAX_PAGES:
        page = await provider.list_events(created_gte=start, starting_after=cursor)
        pages += 1
        items = []
        for event in page.events:
            envelope = read_envelope(event.raw)
            flag = mismatch_flag(envelope, expected_livemode, expected_version)
            items.append(Incoming(envelope, event.raw, "reconcile", flag, runtime.clock.now()))
        async with runtime.session_factory() as session:
            inserted = await insert_events(session, items)
            await session.commit()
        seen += len(items)
        stored += len(inserted)
        if not page.has_more or not page.events:
            break
        cursor = page.events[-1].id
    log.info("inbox_reconciled", since=start.isoformat(), seen=seen, stored=stored, pages=pages)
    return ReconcileReport(seen=seen, stored=stored, pages=pages)

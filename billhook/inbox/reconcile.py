"""Recovery: store every provider event the inbox lacks (missed or dropped deliveries).

Pages through the provider's events API (newest first, ``starting_after``) from ``since``; what
is already stored is left alone (insert-if-absent on the event id), so running it twice, or
beside the webhook receiver, never doubles anything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from billhook.errors import BillhookError
from billhook.inbox.envelope import mismatch_flag, read_envelope
from billhook.inbox.store import Incoming, insert_events
from billhook.kit.tasks import unless_stopped
from billhook.logging import get_logger
from billhook.providers.base import EventPage, PaymentProvider
from billhook.runtime import Runtime

log = get_logger(__name__)
MAX_PAGES = 1000  # 100k events: a bound, so a misbehaving provider cannot keep us paging forever


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    seen: int
    stored: int
    pages: int
    stopped: bool = False  # cut short by ``stop``: the pages after the last stored one were not read


def _provider(runtime: Runtime) -> PaymentProvider:
    if runtime.provider is None:
        raise BillhookError("no payment provider is configured for this process")
    return runtime.provider


async def _next_page(
    provider: PaymentProvider, start: datetime, cursor: str | None, stop: asyncio.Event | None
) -> EventPage | None:
    """The provider's next page, or None once ``stop`` is set: stopping never waits on a
    provider that does not answer. Only this read is abandoned, never a write: a session
    cancelled mid-transaction may skip its rollback, and on SQLite the write lock then stays held."""
    if stop is not None and stop.is_set():
        return None
    request = provider.list_events(created_gte=start, starting_after=cursor)
    return await request if stop is None else await unless_stopped(request, stop)


async def reconcile(
    runtime: Runtime, since: datetime | timedelta, *, stop: asyncio.Event | None = None
) -> ReconcileReport:
    """Store the events created since ``since`` (a time, or a span back from now) that are missing.

    ``stop`` (a worker's shutdown) ends it between pages; each stored page is committed."""
    provider = _provider(runtime)
    start = runtime.clock.now() - since if isinstance(since, timedelta) else since
    expected_livemode = (runtime.settings.stripe_secret_key or "").startswith("sk_live_")
    expected_version = getattr(provider, "api_version", None)
    seen = stored = pages = 0
    cursor: str | None = None
    while pages < MAX_PAGES:
        page = await _next_page(provider, start, cursor, stop)
        if page is None:
            log.info("inbox_reconcile_stopped", seen=seen, stored=stored, pages=pages)
            return ReconcileReport(seen=seen, stored=stored, pages=pages, stopped=True)
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

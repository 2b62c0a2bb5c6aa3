"""``InboxWorker``: applies stored events to the mirror, with leases, retries and dead letters.

Events of one ordering key (a customer) are applied one at a time, oldest first; different keys
in parallel, each in a slot of its own that claims the next group as soon as it is done
(PostgreSQL; SQLite has one writer, so there the worker has one slot). A slot claims the due
events of one key together (up to ``batch_size``, one ``UPDATE … RETURNING``) and applies them
in one transaction: the handlers' mirror writes, audit entries and outbox jobs and the
"processed" marks commit together, and every object is fetched once for the whole group
(:mod:`billhook.inbox.fetches`). An event whose handler fails is marked failed on its own and
the rest of its group applied again without it. A worker killed mid-group leaves an uncommitted
transaction (rolled back) and leases that expire; the events are then claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billhook.db.locks import hold_mirror_of
from billhook.db.outage import Outage, is_outage
from billhook.errors import BillhookError
from billhook.inbox import metrics
from billhook.inbox.claims import (
    Claim,
    Claimed,
    claim_group,
    due_groups,
    mark_all_processed,
    mark_failed,
    still_owned_all,
    still_processed,
)
from billhook.inbox.fetches import HighWaterMarks, SharedFetches, prefetch, primary_read
from billhook.inbox.handlers import ROUTES, Handler, HandlerContext
from billhook.inbox.reconcile import reconcile
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.logging import get_logger
from billhook.models import InboxEvent
from billhook.outbox import RetryPolicy
from billhook.providers.base import PaymentProvider, ProviderEvent
from billhook.runtime import Runtime

log = get_logger(__name__)

# Event types whose handler does more than apply the fetched object (it reads the type itself):
# never folded into another event of the same object. Keep in step with ``handlers/``.
TYPE_SENSITIVE = frozenset({"customer.subscription.trial_will_end", "customer.deleted"})


def _says_more(event_type: str) -> bool:
    """Whether the event means more than "the object changed" to its handler."""
    return event_type in TYPE_SENSITIVE or event_type.endswith(".deleted")


MAX_CONFLICT_RETRIES = 3
# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race, retry it.
_CONFLICT_STATES = {"40P01", "40001"}


def _is_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _CONFLICT_STATES


INBOX_POLICY = RetryPolicy(max_attempts=8, base_delay=timedelta(seconds=5), max_delay=timedelta(hours=1))


@dataclass
class WorkerOptions:
    concurrency: int = 4
    # Due events of one key claimed and applied together (one transaction, one fetch per object).
    batch_size: int = 100
    # An event created this long before its object's last applied fetch needs no fetch.
    fetch_skew_margin: timedelta = timedelta(seconds=5)
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    policy: RetryPolicy = INBOX_POLICY
    # Seconds between reconcile runs (None: never); the first run looks back ``reconcile_lookback``.
    reconcile_interval: float | None = 600.0
    reconcile_lookback: timedelta = timedelta(hours=24)
    routes: dict[str, Handler] = field(default_factory=lambda: dict(ROUTES))
    # BILLHOOK_ALERT_EMAIL, told of disputes besides the admins (handlers see it on their context).
    alert_email: str | None = None


class InboxWorker:
    def __init__(
        self, runtime: Runtime, options: WorkerOptions | None = None, *, concurrency: int | None = None
    ):
        self.runtime = runtime
        self.options = options or WorkerOptions(alert_email=runtime.settings.billhook_alert_email)
        if concurrency is not None:
            self.options.concurrency = concurrency
        self.name = new_id("wrk")
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._wakes = 0  # counts wake-ups, so one that lands while a slot is busy is not lost
        self.outage = Outage(log, "inbox_database_unavailable")  # shared by the slots: one line per try
        self._active_keys: set[str] = set()  # keys this worker's slots are applying
        self.provider_reads = 0  # provider reads made for the events applied (metrics, benchmarks)
        self.marks = HighWaterMarks(self.options.fetch_skew_margin)
        self._last_reconcile: datetime | None = None
        self._next_reconcile: datetime | None = None

    @property
    def concurrency(self) -> int:
        if self.runtime.engine.dialect.name == "sqlite":
            return 1
        return max(1, self.options.concurrency)

    @property
    def provider(self) -> PaymentProvider:
        if self.runtime.provider is None:
            raise BillhookError("the inbox worker needs a payment provider (runtime.provider)")
        return self.runtime.provider

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        _ = self.provider
        self._stopping.clear()
        self._wakeup.clear()
        self._task = asyncio.create_task(self._run(), name=f"inbox-worker-{self.name}")

    async def aclose(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def notify(self) -> None:
        """New events were stored: look now rather than at the next poll."""
        self._wakes += 1
        self._wakeup.set()
        self._wakeup.clear()

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Apply every due event until none is left; returns how many were applied (for tests)."""
        applied = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if done == 0:
                break
            applied += done
        return applied

    async def _run(self) -> None:
        slots = [asyncio.create_task(self._slot(), name=f"inbox-slot-{n}") for n in range(self.concurrency)]
        try:
            while not self._stopping.is_set():
                try:
                    await self._maybe_reconcile()
                except Exception:  # keep reconciling later; the cause is logged
                    log.exception("inbox_reconcile_round_failed", worker=self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), max(self.options.poll_interval, 1.0))
        finally:
            await asyncio.gather(*slots, return_exceptions=True)

    async def _slot(self) -> None:
        """Claim one key's due events, apply them, claim the next: no waiting for other slots."""
        while not self._stopping.is_set():
            seen = self._wakes
            try:
                groups = await self._claim_groups(1)
                self.outage.recovered(worker=self.name)
                if groups:
                    await self.apply_group(groups[0])
                    continue
            except Exception as exc:  # keep the slot alive; the cause is logged and retried
                if is_outage(exc):  # the database went away: one line per attempt, backing off
                    await self.outage.wait_after(exc, self._stopping, worker=self.name)
                    continue
                log.exception("inbox_worker_round_failed", worker=self.name)
            await self._idle(seen)

    async def _idle(self, seen: int) -> None:
        if self._wakes != seen:
            return  # woken while claiming: look again at once
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait(
                {stop, wake}, timeout=self.options.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
            wake.cancel()

    async def _maybe_reconcile(self) -> None:
        interval = self.options.reconcile_interval
        now = self.runtime.clock.now()
        if interval is None or (self._next_reconcile is not None and now < self._next_reconcile):
            return
        # Look back a little past the previous run: deliveries can lag event creation.
        lookback = self.options.reconcile_lookback
        since = self._last_reconcile - timedelta(hours=1) if self._last_reconcile else now - lookback
        try:
            await reconcile(self.runtime, since)
        except Exception as exc:  # the provider may not answer yet (e.g. while the app starts)
            log.warning("inbox_reconcile_failed", error=str(exc))
            self._next_reconcile = now + timedelta(seconds=min(interval, 30))
            return
        self._last_reconcile = now
        self._next_reconcile = now + timedelta(seconds=interval)

    # -- one round --------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim up to ``concurrency`` groups (one per key) and apply them; returns how many events."""
        groups = await self._claim_groups(self.concurrency)
        if not groups:
            return 0
        outcomes = await asyncio.gather(*(self.apply_group(group) for group in groups))
        return sum(len(done) for done in outcomes)

    async def _claim_groups(self, count: int) -> list[list[Claimed]]:
        """Claim up to ``count`` groups in one transaction, their keys in sorted order (so that
        workers taking the keys' advisory locks never wait on each other in a cycle)."""
        now = self.runtime.clock.now()
        async with self.runtime.session_factory() as session:
            found = await due_groups(
                session, now, count, self.options.batch_size, frozenset(self._active_keys)
            )
            found.sort(key=lambda group: group.ordering_key or "")
            claimed: list[list[Claimed]] = []
            for group in found:
                token = f"{self.name}:{new_id('lease')}"
                taken = await claim_group(session, group, token, now, self.options.lease)
                if taken:
                    claimed.append(taken)
            await session.commit()
        for taken in claimed:
            if taken[0].ordering_key is not None:
                self._active_keys.add(taken[0].ordering_key)
        return claimed

    async def apply(self, claim_: Claim) -> str:
        """Apply one claimed event (a replay); returns the outcome."""
        async with self.runtime.session_factory() as session:
            row = await session.get(InboxEvent, claim_.id)
            if row is None:
                return "lost"
            claimed = Claimed(claim_, row.type, row.ordering_key, row.payload, row.received_at)
        return (await self.apply_group([claimed]))[0]

    async def apply_group(self, group: list[Claimed]) -> list[str]:
        """Apply one key's claimed events, oldest first; returns each one's outcome.

        All in one transaction; when a handler fails, that event alone is marked failed and the
        others are applied again without it (their reads shared with the first try)."""
        # Real time, not the runtime's clock: it is compared with the provider's event times.
        fetches = SharedFetches(self.provider, utcnow())
        outcomes: dict[str, str] = {}
        pending = list(group)
        conflicts = 0
        try:
            while pending:
                failure = await self._apply_together(pending, fetches, outcomes)
                if failure is None:
                    break
                failed, exc = failure
                if _is_conflict(exc) and conflicts < MAX_CONFLICT_RETRIES:
                    # Another customer's transaction wrote the same rows in the other order (a
                    # customer both groups mirror): PostgreSQL aborted us; the group is not at fault.
                    conflicts += 1
                    await asyncio.sleep(random.uniform(0.01, 0.05) * conflicts)  # noqa: S311 (jitter)
                    continue
                outcomes[failed.claim.id] = await self._failed(failed.claim, failed.type, exc)
                pending = [c for c in pending if c is not failed and c.claim.id not in outcomes]
        finally:
            self.provider_reads += fetches.calls
            if group and group[0].ordering_key is not None:
                self._active_keys.discard(group[0].ordering_key)
        return [outcomes.get(c.claim.id, "lost") for c in group]

    async def _apply_together(
        self, pending: list[Claimed], fetches: SharedFetches, outcomes: dict[str, str]
    ) -> tuple[Claimed, Exception] | None:
        """One transaction for ``pending``; returns the event to blame when it fails."""
        async with self.runtime.session_factory() as session:
            owned = await still_owned_all(session, [c.claim for c in pending])
            mine = [c for c in pending if c.claim.id in owned]
            outcomes.update({c.claim.id: "lost" for c in pending if c.claim.id not in owned})
            if not mine:
                await session.rollback()
                return None
            current = mine[0]
            try:
                # Finish well inside the lease, so no other worker takes the events meanwhile.
                async with asyncio.timeout(self.options.lease.total_seconds() * 0.8):
                    if mine[0].ordering_key:
                        await hold_mirror_of(session, mine[0].ordering_key)
                    events = {
                        c.claim.id: self.provider.parse_event(c.payload)
                        for c in mine
                        if c.type in self.options.routes
                    }
                    reflected = await self._reflected(session, events)
                    repeats = self._repeats(events, reflected)
                    await prefetch(
                        fetches, self._standard([e for i, e in events.items() if i not in reflected])
                    )
                    for current in mine:
                        event = events.get(current.claim.id)
                        metrics.PROCESSING_ATTEMPTS.labels(current.type).inc()
                        skip = current.claim.id in reflected or current.claim.id in repeats
                        if event is not None and not skip:
                            await self._handle(session, fetches, current, event)
                    await mark_all_processed(session, [c.claim for c in mine], self.runtime.clock.now())
                    await session.commit()
            except Exception as exc:
                await session.rollback()
                return current, exc
        for claim_id, event in events.items():
            read = primary_read(event)
            if read is not None and claim_id not in reflected and fetches.fetched(read):
                self.marks.record(read, fetches.since, claim_id)
        for claimed in mine:
            outcome = "processed" if claimed.type in self.options.routes else "unhandled"
            outcomes[claimed.claim.id] = outcome
            metrics.EVENTS_PROCESSED.labels(claimed.type, outcome).inc()
            lag = (self.runtime.clock.now() - claimed.received_at).total_seconds()
            metrics.PROCESSING_LAG.observe(max(0.0, lag))
        return None

    async def _handle(
        self, session: AsyncSession, fetches: SharedFetches, claimed: Claimed, event: ProviderEvent
    ) -> None:
        handler = self.options.routes[claimed.type]
        context = HandlerContext(session, fetches, event, self.runtime.clock.now(), self.options.alert_email)
        await handler(context)

    def _repeats(self, events: dict[str, ProviderEvent], reflected: set[str]) -> set[str]:
        """Events whose standard handler already runs, in this group, for the same object.

        The group's reads are shared, so a second event of one object (``invoice.finalized``
        after ``invoice.created``) would apply the very same fetched state again: no change, no
        new effect (effects are keyed by state). Deletions and the types a handler reads
        (``TYPE_SENSITIVE``) are kept apart: for them the event says more than the object."""
        first: set[tuple[object, ...]] = set()
        repeats: set[str] = set()
        for claim_id, event in events.items():
            read = primary_read(event)
            if claim_id in reflected or read is None or not self._standard([event]):
                continue
            own_kind = event.type if _says_more(event.type) else ""
            key = (self.options.routes.get(event.type), own_kind, *read)
            if key in first:
                repeats.add(claim_id)
            first.add(key)
        return repeats

    def _standard(self, events: list[ProviderEvent]) -> list[ProviderEvent]:
        """The events whose handler is the standard one, whose reads ``prefetch`` knows."""
        return [e for e in events if self.options.routes.get(e.type) is ROUTES.get(e.type)]

    async def _reflected(self, session: AsyncSession, events: dict[str, ProviderEvent]) -> set[str]:
        """The events an application of this process already reflects (see ``HighWaterMarks``)."""
        anchors = {
            claim_id: self.marks.anchor_for(event)
            for claim_id, event in events.items()
            if not _says_more(event.type) and self._standard([event])
        }
        wanted = {anchor for anchor in anchors.values() if anchor is not None}
        if not wanted:
            return set()
        kept = await still_processed(session, wanted)
        return {claim_id for claim_id, anchor in anchors.items() if anchor in kept}

    async def _failed(self, claim_: Claim, event_type: str, exc: Exception) -> str:
        error = f"{type(exc).__name__}: {exc}"
        dead = claim_.attempts >= self.options.policy.max_attempts
        delay = self.options.policy.delay_after(claim_.attempts)
        async with self.runtime.session_factory() as session:
            await mark_failed(
                session, claim_, error, dead=dead, next_attempt_at=self.runtime.clock.now() + delay
            )
            await session.commit()
        outcome = "dead" if dead else "failed"
        metrics.EVENTS_PROCESSED.labels(event_type, outcome).inc()
        if dead:
            metrics.DEAD_LETTERS.labels(event_type).inc()
        log.warning(
            "inbox_event_failed",
            inbox_id=claim_.id,
            type=event_type,
            attempt=claim_.attempts,
            error=error,
            dead=dead,
        )
        return outcome

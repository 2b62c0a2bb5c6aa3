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

from sqlalchemy.exc import SQLAlchemyError
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
    release_leases,
    still_owned_all,
    still_processed,
    unsettled_objects,
)
from billhook.inbox.fetches import HighWaterMarks, SharedFetches, prefetch, primary_read
from billhook.inbox.handlers import ROUTES, Handler, HandlerContext
from billhook.inbox.reconcile import reconcile
from billhook.kit.clock import utcnow
from billhook.kit.ids import new_id
from billhook.kit.tasks import cancel_and_wait
from billhook.logging import get_logger
from billhook.models import InboxEvent
from billhook.models.object_versions import VERSION_FLOOR, record_versions, versions_of
from billhook.outbox import RetryPolicy
from billhook.providers.base import PaymentProvider, ProviderEvent, SnapshotReader
from billhook.runtime import Runtime

log = get_logger(__name__)

# Event types whose handler does more than apply the fetched object (it reads the type itself):
# never folded into another event of the same object. Keep in step with ``handlers/``.
TYPE_SENSITIVE = frozenset({"customer.subscription.trial_will_end", "customer.deleted"})


def _says_more(event_type: str) -> bool:
    """Whether the event means more than "the object changed" to its handler."""
    return event_type in TYPE_SENSITIVE or event_type.endswith(".deleted")


# The kinds of object an event's snapshot may stand in for a fetch of (``_seed_snapshots``). A
# kind is listed only when every path that writes its mirror rows from provider state records the
# object's version (``billhook.models.object_versions``), so a late, older snapshot is recognised:
#   customer: the inbox; the checkout success page (``complete_from_redirect``: records).
#   subscription: the inbox; the API's actions (``subscriptions.management._apply``: records);
#     the checkout success page (records). Its read expands discounts: the provider declines a
#     snapshot with any (``StripeProvider.object_from_snapshot``).
#   payment_method, setup_intent, dispute: the inbox only.
# Not listed:
#   invoice, charge, checkout_session: their reads expand what a snapshot lacks (``payments``,
#     ``refunds``, ``line_items``).
#   payment_intent: the success page writes it through ``payments.sync_payment`` without a
#     version; and its events come in pairs within a second (created, then succeeded or failed),
#     which proves no order anyway.
#   refund: it also arrives inside every fetched charge (``expand=refunds``), whose copy a refund
#     event's snapshot may be older than; and the refund API writes it.
SNAPSHOT_KINDS = frozenset({"customer", "subscription", "payment_method", "setup_intent", "dispute"})
_UNKNOWN_TIME = 2**62  # an event without ``created``: no other event of its object is provably newer


def _object_and_time(payload: dict[str, object]) -> tuple[str | None, int | None]:
    """The id of the object an event is about and the event's ``created``, from its payload."""
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    created = payload.get("created")
    return (
        object_id if isinstance(object_id, str) else None,
        created if isinstance(created, int) and not isinstance(created, bool) else None,
    )


MAX_CONFLICT_RETRIES = 3
# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race, retry it.
_CONFLICT_STATES = {"40P01", "40001"}


class StaleSnapshot(Exception):
    """A seeded snapshot lost a race with a newer state of its object; the group is retried."""


def _is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, StaleSnapshot):
        return True
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
    # Seconds in-flight groups get to finish on shutdown; the rest are cut short and handed back.
    grace: float = 30.0


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
        """Stop claiming; let in-flight groups finish within ``grace``, then cancel the rest
        (their transactions roll back) and end their leases, so another worker takes them now."""
        self._stopping.set()
        self._wakeup.set()
        task, self._task = self._task, None
        if task is None:
            return
        _done, unfinished = await asyncio.wait({task}, timeout=self.options.grace)
        if not unfinished:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        await cancel_and_wait(task)
        released = await self._release_leases()
        log.warning("inbox_worker_cut_short", worker=self.name, grace=self.options.grace, released=released)

    async def _release_leases(self) -> int:
        with contextlib.suppress(SQLAlchemyError, OSError):  # unreachable: the leases expire anyway
            async with self.runtime.session_factory() as session:
                released = await release_leases(session, f"{self.name}:", self.runtime.clock.now())
                await session.commit()
                return released
        return 0

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
        try:  # stopping ends it between pages, without waiting on the provider
            report = await reconcile(self.runtime, since, stop=self._stopping)
        except Exception as exc:  # the provider may not answer yet (e.g. while the app starts)
            log.warning("inbox_reconcile_failed", error=str(exc))
            self._next_reconcile = now + timedelta(seconds=min(interval, 30))
            return
        if report.stopped:
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
                    await self._seed_snapshots(session, fetches, mine, events, reflected)
                    await prefetch(
                        fetches, self._standard([e for i, e in events.items() if i not in reflected])
                    )
                    for current in mine:
                        event = events.get(current.claim.id)
                        metrics.PROCESSING_ATTEMPTS.labels(current.type).inc()
                        skip = current.claim.id in reflected or current.claim.id in repeats
                        if event is not None and not skip:
                            await self._handle(session, fetches, current, event)
                    await self._record_versions(session, fetches)
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

    async def _seed_snapshots(
        self,
        session: AsyncSession,
        fetches: SharedFetches,
        mine: list[Claimed],
        events: dict[str, ProviderEvent],
        reflected: set[str],
    ) -> None:
        """Seed ``fetches`` with the snapshots that are provably the newest state known of their
        object, so that no one fetches those objects in this group.

        An object of ``SNAPSHOT_KINDS`` qualifies through its newest event in the group when
        that event is strictly newer than every other event of the object in the group (Stripe's
        ``created`` has one-second resolution: a tie proves no order), none of them is a
        deletion or a type its handler reads (``_says_more``), its handler is the standard one,
        it is newer than the object's stored version plus ``fetch_skew_margin`` (so newer than
        any state of it applied before, by the inbox or any other writer), it is not from a
        clock ahead of ours (a test clock), and the provider says the snapshot has the shape of
        its read. Recomputed for each transaction: a retry sees the versions committed since."""
        fetches.unseed()
        reader = self.provider
        if not isinstance(reader, SnapshotReader):
            return
        newest = self._snapshot_candidates(mine, events, reflected)
        if not newest:
            return
        # An event of the object stored beside the group (split off, failed, not due yet) may be
        # newer: then the snapshot is not the newest state known. Keyed by the customer or, for
        # an object without one (a detached payment method), by the object itself.
        ids = {object_id for _kind, object_id in newest}
        keys = ids | {c.ordering_key for c in mine if c.ordering_key}
        unsettled = await unsettled_objects(session, keys, ids, {c.claim.id for c in mine})
        newest = {read: event for read, event in newest.items() if read[1] not in unsettled}
        if not newest:
            return
        versions = await versions_of(session, [*newest, VERSION_FLOOR])
        margin, now = self.options.fetch_skew_margin, utcnow()
        for read, event in newest.items():
            known = [at for at in (versions.get(read), versions.get(VERSION_FLOOR)) if at is not None]
            if (known and event.created <= max(known) + margin) or event.created > now + margin:
                continue
            obj = reader.object_from_snapshot(event)
            if obj is not None:
                fetches.seed(read, obj, event.created)

    async def _record_versions(self, session: AsyncSession, fetches: SharedFetches) -> None:
        """Record how new the group's applied objects are (the fetched ones: now, real time,
        after every read answered). A seeded object whose stored version came out newer than
        its snapshot was written meanwhile by a transaction that committed first (PostgreSQL):
        the snapshot may have overwritten a newer state, so the group is tried again."""
        stored = await record_versions(session, fetches.versions(SNAPSHOT_KINDS, utcnow()))
        stale = [read for read, at in fetches.seeded.items() if stored.get(read, at) > at]
        if stale:
            raise StaleSnapshot(f"newer states of {stale} were applied meanwhile")

    def _snapshot_candidates(
        self, mine: list[Claimed], events: dict[str, ProviderEvent], reflected: set[str]
    ) -> dict[tuple[str, str], ProviderEvent]:
        """Per object of ``SNAPSHOT_KINDS``, its newest event in the group when that event is
        strictly the newest of every event of the object (routed or not) and none says more."""
        times: dict[str, list[int]] = {}
        for claimed in mine:
            object_id, created = _object_and_time(claimed.payload)
            if object_id is not None:
                times.setdefault(object_id, []).append(created if created is not None else _UNKNOWN_TIME)
        spoken = {e.object_id for e in events.values() if _says_more(e.type)}
        newest: dict[tuple[str, str], ProviderEvent] = {}
        for claim_id, event in events.items():
            read = primary_read(event)
            if read is None or read[0] not in SNAPSHOT_KINDS or claim_id in reflected:
                continue
            if read[1] in spoken or not self._standard([event]):
                continue
            seen = sorted(times.get(read[1], ()), reverse=True)
            created = int(event.created.timestamp())
            if seen and seen[0] == created and (len(seen) == 1 or seen[1] < created):
                newest[read] = event
        return newest

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

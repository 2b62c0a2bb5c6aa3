"""``InboxWorker``: applies stored events to the mirror, with leases, retries and dead letters.

One event = one transaction: the handler's mirror writes, its audit entries and outbox jobs,
and the "processed" mark commit together. A worker killed mid-event leaves an uncommitted
transaction (rolled back) and a lease that expires; the event is then claimed again. Events of
one ordering key (a customer) are applied one at a time, oldest first; different keys in
parallel (on PostgreSQL; SQLite has one writer, so there the worker applies one at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from billhook.db.locks import hold_mirror_of
from billhook.errors import BillhookError
from billhook.inbox import metrics
from billhook.inbox.claims import (
    Candidate,
    Claim,
    claim,
    due_candidates,
    mark_failed,
    mark_processed,
    still_owned,
)
from billhook.inbox.handlers import ROUTES, Handler, HandlerContext
from billhook.inbox.reconcile import reconcile
from billhook.kit.ids import new_id
from billhook.logging import get_logger
from billhook.models import InboxEvent
from billhook.outbox import RetryPolicy
from billhook.providers.base import PaymentProvider
from billhook.providers.stripe.mapping import event as event_from_payload
from billhook.runtime import Runtime

log = get_logger(__name__)

INBOX_POLICY = RetryPolicy(max_attempts=8, base_delay=timedelta(seconds=5), max_delay=timedelta(hours=1))


@dataclass
class WorkerOptions:
    concurrency: int = 4
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 0.5
    policy: RetryPolicy = INBOX_POLICY
    # Seconds between reconcile runs (None: never); the first run looks back ``reconcile_lookback``.
    reconcile_interval: float | None = 600.0
    reconcile_lookback: timedelta = timedelta(hours=24)
    routes: dict[str, Handler] = field(default_factory=lambda: dict(ROUTES))


class InboxWorker:
    def __init__(
        self, runtime: Runtime, options: WorkerOptions | None = None, *, concurrency: int | None = None
    ):
        self.runtime = runtime
        self.options = options or WorkerOptions()
        if concurrency is not None:
            self.options.concurrency = concurrency
        self.name = new_id("wrk")
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
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
        self._wakeup.set()

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
        while not self._stopping.is_set():
            try:
                await self._maybe_reconcile()
                done = await self.run_once()
            except Exception:  # keep the loop alive; the cause is logged and retried next round
                log.exception("inbox_worker_round_failed", worker=self.name)
                done = 0
            if done == 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.options.poll_interval)

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
        """Claim up to ``concurrency`` due events (one per key) and apply them; returns how many."""
        now = self.runtime.clock.now()
        async with self.runtime.session_factory() as session:
            candidates = await due_candidates(session, now, self.concurrency)
        claims = [c for c in [await self._claim(candidate) for candidate in candidates] if c is not None]
        if not claims:
            return 0
        await asyncio.gather(*(self.apply(c) for c in claims))
        return len(claims)

    async def _claim(self, candidate: Candidate) -> Claim | None:
        now = self.runtime.clock.now()
        async with self.runtime.session_factory() as session:
            claimed = await claim(
                session, candidate, f"{self.name}:{new_id('lease')}", now, self.options.lease
            )
            await session.commit()
        return claimed

    async def apply(self, claim_: Claim) -> str:
        """Apply one claimed event in one transaction; returns the outcome."""
        async with self.runtime.session_factory() as session:
            if not await still_owned(session, claim_):
                await session.rollback()
                return "lost"
            row = await session.get(InboxEvent, claim_.id)
            assert row is not None
            event_type, received_at = row.type, row.received_at
            metrics.PROCESSING_ATTEMPTS.labels(event_type).inc()
            handler = self.options.routes.get(event_type)
            try:
                if handler is not None:
                    ctx = HandlerContext(
                        session, self.provider, event_from_payload(row.payload), self.runtime.clock.now()
                    )
                    # Finish well inside the lease, so no other worker takes the event meanwhile.
                    async with asyncio.timeout(self.options.lease.total_seconds() * 0.8):
                        if row.ordering_key:
                            await hold_mirror_of(session, row.ordering_key)
                        await handler(ctx)
                await mark_processed(session, claim_, self.runtime.clock.now())
                await session.commit()
            except Exception as exc:
                await session.rollback()
                return await self._failed(claim_, event_type, exc)
        outcome = "processed" if handler is not None else "unhandled"
        metrics.EVENTS_PROCESSED.labels(event_type, outcome).inc()
        metrics.PROCESSING_LAG.observe(max(0.0, (self.runtime.clock.now() - received_at).total_seconds()))
        return outcome

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

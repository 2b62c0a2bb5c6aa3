"""``OutboxWorker``: claims due jobs with a lease, runs their handlers, retries or buries them.

Guarantees, and what they rest on:

* A handler's database writes and the job's "done" mark commit in one transaction
  (:func:`repository.mark_done` runs in the handler's session), so a crash repeats neither.
* PostgreSQL: claims use ``FOR UPDATE SKIP LOCKED`` and the handler's transaction keeps the job
  row locked, so many workers on many machines never run one job concurrently twice. A worker
  that dies drops its connection and its locks; its lease expires and another worker reclaims.
* SQLite has one writer: the worker runs a single slot there whatever ``concurrency`` says.
* Shutdown (``aclose()``, SIGTERM in the CLI) stops claiming, lets in-flight jobs finish within
  ``grace``, cancels the rest and releases their leases without counting the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from billhook.db.outage import Outage
from billhook.logging import get_logger, redact
from billhook.outbox import contracts, metrics, repository
from billhook.outbox.jobs import JobContext, JobDefinition, PermanentJobError, UnknownJobType
from billhook.outbox.notify import OutboxListener
from billhook.outbox.repository import ClaimedJob

if TYPE_CHECKING:
    from billhook.runtime import Runtime

log = get_logger(__name__)

DEAD_LETTER_ALERT = contracts.DEAD_LETTER_ALERT.name
MAX_CLAIM_BATCH = 8  # jobs one slot claims at once when there is a backlog
MAX_ERROR_LENGTH = 2000


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def describe_error(exc: BaseException) -> str:
    """The error kept on the job: type, message and the innermost frames, secrets masked."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "".join(f"\n  at {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)
    text = f"{type(exc).__name__}: {exc}{where}"
    masked = str(redact(None, "", {"error": text})["error"])
    return masked[:MAX_ERROR_LENGTH]


class OutboxWorker:
    """A Runtime service; ``run_once()`` and ``drain()`` drive it step by step in tests."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        concurrency: int = 1,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        poll_interval: float = 0.5,
        grace: float = 10.0,
        listen: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.runtime = runtime
        self.worker_id = worker_id or default_worker_id()
        self.is_postgresql = runtime.engine.dialect.name == "postgresql"
        self.concurrency = concurrency if self.is_postgresql else 1
        self.lease = lease
        # A handler may not outlive its lease: past it another worker could take the job over.
        self.job_timeout = lease.total_seconds() * 0.9
        self.poll_interval = poll_interval
        self.grace = grace
        self._listen = listen and self.is_postgresql
        self._listener: OutboxListener | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.outage = Outage(log, "outbox_database_unavailable")  # shared by the slots: one line per try
        self._wakes = 0  # counts wake-ups, so one that lands while a slot is busy is not lost
        self._slots: list[asyncio.Task[None]] = []
        # Jobs whose outcome could not be written (the database went away mid-job): handed back
        # as soon as it answers again, instead of waiting out their lease.
        self._orphans: set[str] = set()
        if concurrency > self.concurrency:
            log.warning("outbox_worker_single_slot", reason="SQLite has one writer", asked=concurrency)

    # -- service ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping.clear()
        if self._listen:
            self._listener = OutboxListener(self.runtime.engine, on_notify=self.wake)
            await self._listener.start()
        self._slots = [
            asyncio.create_task(self._slot(), name=f"outbox-slot-{n}") for n in range(self.concurrency)
        ]
        log.info("outbox_worker_started", worker_id=self.worker_id, concurrency=self.concurrency)

    async def aclose(self) -> None:
        """Stop claiming, finish in-flight jobs within the grace period, release the rest."""
        self._stopping.set()
        self.wake()
        if self._slots:
            _done, unfinished = await asyncio.wait(self._slots, timeout=self.grace)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*self._slots, return_exceptions=True)
            self._slots = []
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        released = await self._release()
        log.info("outbox_worker_stopped", worker_id=self.worker_id, released=released)

    def wake(self) -> None:
        """New work may be due: wake idle slots now instead of at their next poll."""
        self._wakes += 1
        self._wake.set()
        self._wake.clear()

    # -- step by step ---------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim up to ``concurrency`` due jobs and run them; returns how many ran."""
        jobs = await self._claim(self.concurrency)
        await asyncio.gather(*(self._execute(job) for job in jobs))
        return len(jobs)

    async def drain(self, *, max_jobs: int = 10_000) -> int:
        """Run jobs until none is due (jobs scheduled for later stay queued)."""
        total = 0
        while total < max_jobs:
            ran = await self.run_once()
            if ran == 0:
                break
            total += ran
        return total

    # -- internals --------------------------------------------------------------------------------

    async def _slot(self) -> None:
        batch = 1
        while not self._stopping.is_set():
            seen = self._wakes
            try:
                jobs = await self._claim(batch)
                self.outage.recovered(worker_id=self.worker_id)
                if jobs:
                    # A full claim means a backlog: take more per claim next time (one claim
                    # transaction for several jobs). A short one goes back to one at a time, so
                    # a few slow jobs spread over the slots instead of queuing behind each other.
                    batch = min(batch * 2, MAX_CLAIM_BATCH) if len(jobs) == batch else 1
                    await self._execute_all(jobs)
                    continue
            except (SQLAlchemyError, OSError) as exc:
                # The database is unreachable or refused: keep the slot alive and try again,
                # backing off, one line per attempt. A job whose bookkeeping failed keeps its
                # lease and is reclaimed.
                await self.outage.wait_after(exc, self._stopping, worker_id=self.worker_id)
                continue
            await self._idle(seen)

    async def _idle(self, seen: int) -> None:
        if self._wakes != seen:
            return  # woken while claiming: look again at once
        if self._listener is not None:
            await self._listener.ensure()
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        if self._orphans:
            await self._unlock_orphans()
        async with self.runtime.session_factory() as session:
            jobs = await repository.claim(
                session, worker_id=self.worker_id, now=self.runtime.clock.now(), lease=self.lease, limit=limit
            )
            await session.commit()
        return jobs

    async def _execute_all(self, jobs: list[ClaimedJob]) -> None:
        """Run claimed jobs one after another; on shutdown the rest are released (``aclose``)."""
        for index, job in enumerate(jobs):
            if self._stopping.is_set():
                return
            try:
                await self._execute(job)
            except (SQLAlchemyError, OSError):
                # Not started: hand them back as soon as the database answers, not after the lease.
                self._orphans.update(later.id for later in jobs[index + 1 :])
                raise

    async def _execute(self, job: ClaimedJob) -> None:
        try:
            await self._settle(job)
        except (SQLAlchemyError, OSError):
            self._orphans.add(job.id)
            raise

    async def _unlock_orphans(self) -> None:
        orphans = sorted(self._orphans)
        async with self.runtime.session_factory() as session:
            await repository.unlock(session, orphans, self.worker_id, self.runtime.clock.now())
            await session.commit()
        self._orphans.difference_update(orphans)
        log.info("outbox_orphans_unlocked", worker_id=self.worker_id, jobs=len(orphans))

    async def _settle(self, job: ClaimedJob) -> None:
        """Run the job and record its outcome: done, retry later, or dead."""
        claimed_at = time.monotonic()
        try:
            definition = self.runtime.jobs.get(job.type)
        except UnknownJobType:
            await self._bury(job, f"UnknownJobType: no handler is registered for job type {job.type!r}")
            return
        try:
            if definition.contract is not None:
                definition.contract.read(job.payload)  # a payload that does not fit never succeeds
            ran = await self._run_handler(job, definition, claimed_at)
        except PermanentJobError as exc:
            await self._bury(job, describe_error(exc))
        except Exception as exc:
            await self._fail(job, definition, describe_error(exc))
        else:
            if ran:
                metrics.JOBS_RUN.labels(job.type).inc()

    async def _run_handler(self, job: ClaimedJob, definition: JobDefinition, claimed_at: float) -> bool:
        """Run the handler and mark the job done in one transaction; False if the lease was lost.

        PostgreSQL: the done mark is the transaction's first statement and also its row lock
        (see :func:`repository.mark_done`); a failing handler rolls it back. SQLite: the lease is
        checked first and the mark comes last, so the database's one write lock is not taken
        for the whole handler when the handler writes nothing until its end.
        """
        async with self.runtime.session_factory() as session:
            now = self.runtime.clock.now()
            if self.is_postgresql:
                ours = await repository.mark_done(session, job.id, self.worker_id, now)
            else:
                ours = await repository.hold(session, job.id, self.worker_id)
            if not ours:
                log.warning("outbox_lease_lost", job_id=job.id, type=job.type, worker_id=self.worker_id)
                return False
            context = JobContext(
                session=session, runtime=self.runtime, job_id=job.id, key=job.key,
                type=job.type, payload=job.payload, attempt=job.attempt,
            )  # fmt: skip
            metrics.CLAIM_TO_START.observe(time.monotonic() - claimed_at)
            metrics.DUE_TO_START.observe(max((now - job.run_after).total_seconds(), 0.0))
            async with asyncio.timeout(self.job_timeout):
                await definition.handler(context)
            if not self.is_postgresql and not await repository.mark_done(
                session, job.id, self.worker_id, self.runtime.clock.now()
            ):
                await session.rollback()
                log.warning("outbox_lease_lost", job_id=job.id, type=job.type, worker_id=self.worker_id)
                return False
            await session.commit()
        return True

    async def _fail(self, job: ClaimedJob, definition: JobDefinition, error: str) -> None:
        if job.attempt >= job.max_attempts:
            await self._bury(job, f"{error}\n(gave up after {job.attempt} attempts)")
            return
        now = self.runtime.clock.now()
        run_after = now + definition.policy.delay_after(job.attempt)
        async with self.runtime.session_factory() as session:
            await repository.reschedule(
                session, job.id, self.worker_id, run_after=run_after, error=error, now=now
            )
            await session.commit()
        metrics.JOBS_FAILED.labels(job.type).inc()
        log.warning(
            "outbox_job_failed", job_id=job.id, type=job.type, attempt=job.attempt,
            retry_at=run_after.isoformat(), error=error.splitlines()[0],
        )  # fmt: skip

    async def _bury(self, job: ClaimedJob, error: str) -> None:
        """Dead-letter the job and raise the alert (log, metric, admin email job) with it."""
        now = self.runtime.clock.now()
        async with self.runtime.session_factory() as session:
            buried = await repository.bury(session, job.id, self.worker_id, error=error, now=now)
            if buried and job.type != DEAD_LETTER_ALERT:
                first_line = error.splitlines()[0]
                alert = contracts.DeadLetterAlert(
                    job_id=job.id, job_type=job.type, key=job.key, attempts=job.attempt, error=first_line
                )
                await contracts.DEAD_LETTER_ALERT.enqueue(session, alert, key=f"dead_letter_alert:{job.id}")
            await session.commit()
        if buried:
            metrics.JOBS_DEAD.labels(job.type).inc()
            log.error(
                "outbox_job_dead", job_id=job.id, type=job.type, attempts=job.attempt,
                error=error.splitlines()[0],
            )  # fmt: skip

    async def _release(self) -> int:
        with contextlib.suppress(SQLAlchemyError, OSError):
            async with self.runtime.session_factory() as session:
                released = await repository.release(session, self.worker_id, self.runtime.clock.now())
                await session.commit()
                return released
        return 0

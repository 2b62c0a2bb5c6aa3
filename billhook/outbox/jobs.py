"""What a job is: its type, handler, retry policy and the context a handler runs in.

A handler receives a :class:`JobContext` whose ``session`` is in the same transaction that
marks the job done: the handler's own database writes and the "done" mark commit together, so
a crash between them repeats neither. External effects (an email, an HTTP call) are made
idempotent by the job's unique key.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from billhook.outbox.contracts import JobContract
    from billhook.runtime import Runtime


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help (bad address, 4xx from a partner)."""


class UnknownJobType(Exception):
    """No handler is registered for a job's type."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * 2**(n-1)`` (± jitter)."""

    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.2  # fraction of the delay, both ways

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """How long to wait after failed attempt number ``attempt`` (1-based)."""
        raw = self.base_delay * (1 << max(attempt - 1, 0))
        bounded = min(raw, self.max_delay)
        spread: float = (rng or random).uniform(-self.jitter, self.jitter)
        return bounded * (1 + spread)


# The first attempt and up to five retries after it, 1, 2, 4, 8 and 16 s apart (the brief's
# "retry up to 5 times with exponential backoff" for booking and other emails).
EMAIL_RETRIES = 5
EMAIL_POLICY = RetryPolicy(max_attempts=1 + EMAIL_RETRIES, base_delay=timedelta(seconds=1))
FULFILMENT_POLICY = RetryPolicy(max_attempts=8, base_delay=timedelta(seconds=30))


@dataclass
class JobContext:
    session: AsyncSession
    runtime: Runtime
    job_id: str
    key: str
    type: str
    payload: dict[str, Any]
    attempt: int


JobHandler = Callable[[JobContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobDefinition:
    type: str
    handler: JobHandler
    policy: RetryPolicy
    contract: JobContract[Any] | None = None  # the payload's model, checked before the handler runs


@dataclass
class JobRegistry:
    """Job type → handler and retry policy. Built once at start-up by the composition root."""

    _definitions: dict[str, JobDefinition] = field(default_factory=dict)

    def register(
        self, job_type: str | JobContract[Any], handler: JobHandler, policy: RetryPolicy | None = None
    ) -> None:
        """Register a handler for a job type, by its contract (name, payload model, policy) or,
        for a type internal to one domain, by name."""
        contract = None if isinstance(job_type, str) else job_type
        name = job_type if isinstance(job_type, str) else job_type.name
        if name in self._definitions:
            raise ValueError(f"job type {name!r} is registered twice")
        chosen = policy or (contract.policy if contract is not None else RetryPolicy())
        self._definitions[name] = JobDefinition(name, handler, chosen, contract)

    def get(self, job_type: str) -> JobDefinition:
        try:
            return self._definitions[job_type]
        except KeyError:
            raise UnknownJobType(job_type) from None

    def policy_for(self, job_type: str) -> RetryPolicy:
        definition = self._definitions.get(job_type)
        return definition.policy if definition else RetryPolicy()

    def types(self) -> list[str]:
        return sorted(self._definitions)

"""The domain registrar seam, and the sandbox registrar used offline and in tests.

Plugging a real registrar (OpenSRS, Gandi, Namecheap …): write a class with the two methods
of :class:`DomainRegistrar` that calls the registrar's API and returns the new expiry, then
pass an instance to :func:`billhook.fulfilment.jobs.register_jobs` at start-up. Use
``idempotency_key`` as the registrar's client transaction id where it has one: a job that
crashes after the API call but before its commit runs again with the same key. Raise
:class:`RegistrarRefused` when retrying cannot help (domain taken, invalid contacts); any other
exception is retried with the fulfilment back-off. Billhook records the result in
``domain_registrations`` itself, whichever registrar is plugged in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from billhook.kit.clock import Clock, SystemClock
from billhook.outbox import PermanentJobError


class RegistrarRefused(PermanentJobError):
    """The registrar said no for good: the domain is taken, the contacts are invalid."""


@dataclass(frozen=True, slots=True)
class RegistrarResult:
    reference: str  # the registrar's id for the domain or the operation
    expires_at: datetime


class DomainRegistrar(Protocol):
    name: str

    async def register(
        self, *, domain: str, years: int, contacts: Mapping[str, Any], idempotency_key: str
    ) -> RegistrarResult: ...

    async def renew(
        self, *, domain: str, years: int, current_expiry: datetime, idempotency_key: str
    ) -> RegistrarResult: ...


def add_years(moment: datetime, years: int) -> datetime:
    """Same day and time ``years`` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


class SandboxRegistrar:
    """Registers anything except ``*.invalid`` and ``*.taken`` (RFC 2606 style test names)."""

    name = "sandbox"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()

    async def register(
        self, *, domain: str, years: int, contacts: Mapping[str, Any], idempotency_key: str
    ) -> RegistrarResult:
        if domain.endswith(".taken"):
            raise RegistrarRefused(f"{domain} is already registered by someone else")
        self._check(domain, years)
        if not contacts.get("email"):
            raise RegistrarRefused(f"{domain}: the registrant contact needs an email")
        return RegistrarResult(self._reference(domain), add_years(self._clock.now(), years))

    async def renew(
        self, *, domain: str, years: int, current_expiry: datetime, idempotency_key: str
    ) -> RegistrarResult:
        self._check(domain, years)
        return RegistrarResult(self._reference(domain), add_years(current_expiry, years))

    @staticmethod
    def _check(domain: str, years: int) -> None:
        if domain.endswith(".invalid") or "." not in domain:
            raise RegistrarRefused(f"{domain!r} is not a registrable domain")
        if not 1 <= years <= 10:
            raise RegistrarRefused(f"{domain}: registration period must be 1 to 10 years, not {years}")

    @staticmethod
    def _reference(domain: str) -> str:
        return "sbx_dom_" + hashlib.sha256(domain.encode()).hexdigest()[:16]
